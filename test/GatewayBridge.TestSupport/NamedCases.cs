using System.Collections;

namespace GatewayBridge.TestSupport;

/// <summary>
/// Theory cases whose data xunit cannot serialize (delegates), offered by name: each case is then a test of its own
/// in the runner, in test explorers and in Stryker's per-test coverage, instead of one test that runs them all.
/// </summary>
public sealed class NamedCases<T> : IEnumerable<object[]>
{
    private readonly Dictionary<string, T> _cases = new(StringComparer.Ordinal);

    public T this[string name] => _cases[name];

    /// <summary>Adds a case; a second case of the same name is named "name #2", and so on.</summary>
    public void Add(string name, T value)
    {
        var unique = name;
        for (var n = 2; _cases.ContainsKey(unique); n++)
        {
            unique = $"{name} #{n}";
        }

        _cases.Add(unique, value);
    }

    public IEnumerator<object[]> GetEnumerator() => _cases.Keys.Select(static name => new object[] { name }).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
