using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.BearerToken;
using SideBySide;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddAuthentication(BearerTokenDefaults.AuthenticationScheme).AddBearerToken();
builder.Services.AddAuthorization();

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();

// New code: minimal-API endpoints under /api. Each route ported from the legacy app goes here and wins at once.
var api = app.MapGroup("/api");
api.MapGet("/hello", (string? name) => Results.Ok(new { greeting = $"Hello, {name ?? "api"}!" }));
api.MapPost("/login", (Login login) => login.Password == "demo"
    ? Results.SignIn(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, login.User)], BearerTokenDefaults.AuthenticationScheme)))
    : Results.Unauthorized());

// Legacy admin pages behind ASP.NET Core authorization: 401 before the gateway app runs.
app.MapGatewayApp("/legacy", LegacyApps.Admin).RequireAuthorization();

// Everything else: the legacy site.
app.UseGatewayApp(LegacyApps.Site);

app.Run();

/// <summary>The login form of the demo.</summary>
internal sealed record Login(string User, string Password);

/// <summary>Public so that tests can host this app with WebApplicationFactory.</summary>
public partial class Program;
