using GatewayBridge.Serve;

return await ServeCommand.RunAsync(args, Console.Out, Console.Error);
