using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.BearerToken;

var builder = WebApplication.CreateBuilder(args);

// The python3 that has Flask, Django and Pyramid (Debian's, from appsettings.json), with this project's python/
// folder first on sys.path: embedded in this process, or with PythonWorkers set, in that many worker processes per
// app (dotnet run -- --PythonWorkers 2). In-memory state (the Flask to-dos) is then per worker, as under gunicorn.
builder.Services.AddPython(python =>
{
    python.Python = builder.Configuration["Python"] ?? "python3";
    python.PythonPath.Add("python");
    python.Workers = builder.Configuration.GetValue<int>("PythonWorkers");
});
builder.Services.AddHealthChecks().AddPythonWorkers();
builder.Services.AddAuthentication(BearerTokenDefaults.AuthenticationScheme).AddBearerToken();
builder.Services.AddAuthorization();

var app = builder.Build();
app.UseWebSockets();
app.UseAuthentication();
app.UseAuthorization();

// New code beside the legacy apps: a minimal API, and the login that the Django app relies on.
app.MapGet("/api/health", () => Results.Ok(new { status = "ok" }));
app.MapHealthChecks("/healthz");
app.MapPost("/api/login", (Login login) => login.Password == "demo"
    ? Results.SignIn(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, login.User)], BearerTokenDefaults.AuthenticationScheme)))
    : Results.Unauthorized());

// Four Python WSGI apps, unmodified, each under its own prefix (SCRIPT_NAME) on the same Kestrel server.
app.MapPythonWsgiApp("/flask", "flask_site:app");
app.MapPythonWsgiApp("/django", "django_site:application").RequireAuthorization();
app.MapPythonWsgiApp("/pyramid", "pyramid_site:make_app()");
app.MapPythonWsgiApp("/rpc", "xmlrpc_service:application");

// And the ASGI successor beside them: a FastAPI service, WebSockets included (UseWebSockets above).
app.MapPythonAsgiApp("/api/v2", "fastapi_service:app");

app.Run();

/// <summary>The login form of the demo.</summary>
internal sealed record Login(string User, string Password);

/// <summary>Public so that tests can host this app with WebApplicationFactory.</summary>
public partial class Program;
