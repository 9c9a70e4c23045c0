using BenchmarkDotNet.Running;
using GatewayBridge.Benchmarks;

// micro: BenchmarkDotNet per-request costs.  serve <plain|gateway> <port>: a twin server for load.sh.
// serve-python <module:app> <port> <threads>: a Python WSGI app for python-load.sh.
// isolation: native-endpoint latency while gateway apps block, and slow or large uploads.
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
    await PythonLoadServer.RunAsync(args[1], port, int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
    return 0;
}

if (args.Length >= 3 && args[0] == "serve")
{
    await LoadServer.RunAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Length > 0 && args[0] == "micro" ? args[1..] : args);
return 0;
