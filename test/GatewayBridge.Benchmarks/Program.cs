using BenchmarkDotNet.Running;
using GatewayBridge.Benchmarks;

// micro: BenchmarkDotNet per-request costs.  serve <plain|gateway> <port>: a twin server for load.sh.
// serve-python <module:app> <port> <threads> [workers]: a Python WSGI app for python-load.sh (threads 0: the default).
// serve-asgi <module:app> <port> <workers>: a Python ASGI app for python-load.sh (workers 0: the host's interpreter).
// isolation: native-endpoint latency while gateway apps block, and slow or large uploads.
// transport: round trips between the host and a Python worker process over candidate transports.
if (args.Length >= 1 && args[0] == "transport")
{
    await TransportBenchmark.RunAsync(TimeSpan.FromSeconds(3));
    return 0;
}

if (args.Length >= 3 && args[0] == "isolation-server")
{
    await IsolationBenchmark.RunServerAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
    return 0;
}

if (args.Length >= 1 && args[0] == "isolation")
{
    await IsolationBenchmark.RunAsync();
    return 0;
}

if (args.Length >= 4 && args[0] == "serve-python")
{
    var port = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
    var workers = args.Length >= 5 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 0;
    await PythonLoadServer.RunAsync(args[1], port, int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), workers);
    return 0;
}

if (args.Length >= 4 && args[0] == "serve-asgi")
{
    var port = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
    await PythonLoadServer.RunAsync(args[1], port, 0, int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), asgi: true);
    return 0;
}

if (args.Length >= 3 && args[0] == "serve")
{
    await LoadServer.RunAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(PythonLoadServer).Assembly).Run(args.Length > 0 && args[0] == "micro" ? args[1..] : args);
return 0;
