using HelloGateway;

var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();

// A native endpoint: routing sends /healthz here, everything else falls through to the gateway app.
app.MapGet("/healthz", () => "ok");

app.UseGatewayApp(HelloApp.Handle);

app.Run();
