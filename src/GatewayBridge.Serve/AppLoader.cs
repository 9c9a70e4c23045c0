using System.Reflection;
using System.Runtime.Loader;

namespace GatewayBridge.Serve;

/// <summary>The reason an app could not be loaded, worded for the person who typed the command.</summary>
internal sealed class AppLoadException(string message) : Exception(message);

/// <summary>Finds <c>Namespace.Type.Method</c> in a compiled assembly and checks it has the gateway app's shape.</summary>
internal static class AppLoader
{
    public static GatewayApp Load(string assemblyPath, string methodPath)
    {
        var fullPath = Path.GetFullPath(assemblyPath);
        if (!File.Exists(fullPath))
        {
            throw new AppLoadException($"No assembly at '{fullPath}'. Build the app first and pass the path of its .dll.");
        }

        var lastDot = methodPath.LastIndexOf('.');
        if (lastDot <= 0 || lastDot == methodPath.Length - 1)
        {
            throw new AppLoadException($"'{methodPath}' is not of the form Namespace.Type.Method.");
        }

        var typeName = methodPath[..lastDot];
        var methodName = methodPath[(lastDot + 1)..];
        var assembly = new AppLoadContext(fullPath).LoadFromAssemblyPath(fullPath);
        var type = assembly.GetType(typeName, throwOnError: false)
            ?? throw new AppLoadException($"The assembly '{Path.GetFileName(fullPath)}' has no type '{typeName}'.");

        var candidates = type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance)
            .Where(m => m.Name == methodName)
            .ToList();
        if (candidates.Count == 0)
        {
            throw new AppLoadException($"The type '{typeName}' has no method '{methodName}'.");
        }

        var shaped = candidates.Where(HasGatewayShape).ToList();
        if (shaped.Count == 0)
        {
            throw new AppLoadException(
                $"'{methodPath}' has the wrong signature; a gateway app is " +
                "static IEnumerable<byte[]> Name(IDictionary<string, object?> environ, StartResponse startResponse).");
        }

        var method = shaped[0];
        if (!method.IsStatic)
        {
            throw new AppLoadException($"'{methodPath}' is an instance method; make it static so it can be served without an object.");
        }

        return method.CreateDelegate<GatewayApp>();
    }

    private static bool HasGatewayShape(MethodInfo method)
    {
        var parameters = method.GetParameters();
        return method.ReturnType == typeof(IEnumerable<byte[]>) &&
               parameters.Length == 2 &&
               parameters[0].ParameterType == typeof(IDictionary<string, object?>) &&
               parameters[1].ParameterType == typeof(StartResponse);
    }

    /// <summary>
    /// Loads the app with its own dependencies, but shares GatewayBridge and the shared framework with the tool so the
    /// delegate types are the same on both sides.
    /// </summary>
    private sealed class AppLoadContext(string path) : AssemblyLoadContext(Path.GetFileNameWithoutExtension(path), isCollectible: false)
    {
        private readonly AssemblyDependencyResolver _resolver = new(path);

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            if (assemblyName.Name == typeof(GatewayApp).Assembly.GetName().Name)
            {
                return null;
            }

            var resolved = _resolver.ResolveAssemblyToPath(assemblyName);
            return resolved is null ? null : LoadFromAssemblyPath(resolved);
        }
    }
}
