using RestDispatcher;

var dispatcher = new PathDispatcher();
dispatcher.Register("GET", "/hello", Handlers.Hello);
dispatcher.Register("POST", "/hello", Handlers.Hello);
dispatcher.Register("GET", "/localtime", Handlers.LocalTime);

var app = WebApplication.CreateBuilder(args).Build();
app.UseGatewayApp(dispatcher.Handle);
app.Run();

/// <summary>Public so that tests can host this app with WebApplicationFactory.</summary>
public partial class Program;
