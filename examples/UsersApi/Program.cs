using UsersApi;

var app = WebApplication.CreateBuilder(args).Build();

// One store per host: the app is an instance, its Handle method the gateway app.
var users = new UsersApp();
app.UseGatewayApp(users.Handle);

app.Run();

/// <summary>Public so that tests can host this app with WebApplicationFactory.</summary>
public partial class Program;
