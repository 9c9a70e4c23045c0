using HelloGateway;

var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();

// A native endpoint: routing sends /healthz here, everything else falls through to the gateway app.
app.MapGet("/healthz", () => "ok");

app.UseGatewayApp(HelloApp.Handle);

app.Run();

/// <summary>Public so that tests can host this app with WebApplicationFactory.</summary>
public partial class Program;
