using System.Reflection;

namespace GatewayBridge.Tests;

public class PublicApiTests
{
    private static readonly string ApprovedPath = Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt");

    /// <summary>
    /// Lists every public type and member of the library. A change here is a change to what users compile against:
    /// update PublicApi.approved.txt on purpose (set GATEWAYBRIDGE_APPROVE_API=1 and copy the written .received.txt).
    /// </summary>
    [Fact]
    public void PublicSurface_MatchesTheApprovedList()
    {
        var actual = Describe(typeof(GatewayApp).Assembly);
        if (Environment.GetEnvironmentVariable("GATEWAYBRIDGE_APPROVE_API") == "1")
        {
            File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.received.txt"), actual);
        }

        Assert.Equal(File.ReadAllText(ApprovedPath).ReplaceLineEndings("\n").Trim(), actual.Trim());
    }

    private static string Describe(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            lines.Add($"{Kind(type)} {type.FullName}");
            var members = type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => m is not MethodInfo { IsSpecialName: true })
                .Select(m => "  " + Member(m))
                .Order(StringComparer.Ordinal);
            lines.AddRange(members);
        }

        return string.Join("\n", lines);
    }

    private static string Kind(Type type) => type switch
    {
        { IsEnum: true } => "enum",
        _ when type.IsSubclassOf(typeof(Delegate)) => "delegate",
        { IsAbstract: true, IsSealed: true } => "static class",
        { IsSealed: true } => "sealed class",
        _ => "class",
    };

    private static string Member(MemberInfo member) => member switch
    {
        MethodInfo m => $"{(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}({Parameters(m)})",
        ConstructorInfo c => $"ctor({Parameters(c)})",
        PropertyInfo p => $"{Name(p.PropertyType)} {p.Name} {{{(p.CanRead ? " get;" : "")}{(p.SetMethod?.IsPublic == true ? " set;" : "")} }}",
        FieldInfo f => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}",
        _ => member.ToString() ?? member.Name,
    };

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.Name;
}
