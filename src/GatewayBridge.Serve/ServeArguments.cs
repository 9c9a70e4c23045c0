using System.Globalization;

namespace GatewayBridge.Serve;

/// <summary>The parsed command line of <c>serve</c>: a .NET app (assembly and method) or a Python one (app spec).</summary>
internal sealed record ServeArguments(
    string? AssemblyPath, string? MethodPath, string? AppSpec, string Urls, bool Validate, bool ForwardedHeaders,
    string Python, string Chdir, int Threads)
{
    public static ServeArguments Parse(string[] args)
    {
        var positional = new List<string>();
        var urls = "http://127.0.0.1:8000";
        var python = "python3";
        string? chdir = null;
        var threads = 8;
        bool validate = false, forwarded = false, pythonOption = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--urls" or "--python" or "--chdir" or "--threads" when i + 1 >= args.Length:
                    throw new ArgumentException($"{args[i]} needs a value.");
                case "--urls":
                    urls = args[++i];
                    break;
                case "--python":
                    python = args[++i];
                    pythonOption = true;
                    break;
                case "--chdir":
                    chdir = Path.GetFullPath(args[++i]);
                    pythonOption = true;
                    break;
                case "--threads":
                    threads = int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                        ? n
                        : throw new ArgumentException($"--threads needs a whole number of at least 1, not '{args[i]}'.");
                    pythonOption = true;
                    break;
                case "--validate":
                    validate = true;
                    break;
                case "--forwarded-headers":
                    forwarded = true;
                    break;
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    throw new ArgumentException($"Unknown option '{option}'.");
                default:
                    positional.Add(args[i]);
                    break;
            }
        }

        var folder = chdir ?? Directory.GetCurrentDirectory();
        return positional switch
        {
            ["serve", var spec] when spec.Contains(':', StringComparison.Ordinal) || !spec.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) =>
                new ServeArguments(null, null, spec, urls, validate, forwarded, python, folder, threads),
            ["serve", var assembly, var method] when !pythonOption =>
                new ServeArguments(assembly, method, null, urls, validate, forwarded, python, folder, threads),
            ["serve", _, _] => throw new ArgumentException("--python, --chdir and --threads are for Python apps (serve module:callable)."),
            _ => throw new ArgumentException("Expected: serve <App.dll> <Namespace.Type.Method>, or serve <module:callable>."),
        };
    }
}
