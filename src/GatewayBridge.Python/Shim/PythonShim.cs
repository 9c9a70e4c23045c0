namespace GatewayBridge.Python;

/// <summary>
/// The shim's Python modules (the <c>gatewaybridge</c> package and the worker's script), shipped as resources of this
/// assembly and written out where a Python finds them: a worker's runtime folder, the host interpreter's own folder,
/// the serve tool's probe.
/// </summary>
internal static class PythonShim
{
    /// <summary>The script a worker process runs; its folder is <c>sys.path[0]</c>, so the shim is found first.</summary>
    public const string WorkerScript = "gatewaybridge_worker.py";

    /// <summary>Writes every module of the shim into <paramref name="folder"/>; returns the worker's script.</summary>
    public static string Write(string folder)
    {
        var assembly = typeof(PythonShim).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".py", StringComparison.Ordinal)))
        {
            var path = Path.Combine(folder, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var resource = assembly.GetManifestResourceStream(name)!;
            using var file = File.Create(path);
            resource.CopyTo(file);
        }

        return Path.Combine(folder, WorkerScript);
    }
}
