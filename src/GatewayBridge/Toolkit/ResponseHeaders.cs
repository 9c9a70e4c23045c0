using System.Collections;
using System.Text;

namespace GatewayBridge;

/// <summary>
/// A case-insensitive, ordered list of response headers (<c>wsgiref.headers.Headers</c> in C#). It is an
/// <see cref="IList{T}"/> of (name, value) pairs, so it can be passed straight to <see cref="StartResponse"/>.
/// </summary>
public sealed class ResponseHeaders : IList<(string Name, string Value)>
{
    private readonly List<(string Name, string Value)> _headers;

    /// <summary>Creates an empty header list.</summary>
    public ResponseHeaders()
    {
        _headers = [];
    }

    /// <summary>Creates a header list holding a copy of <paramref name="headers"/>.</summary>
    /// <param name="headers">The initial headers, in order.</param>
    public ResponseHeaders(IEnumerable<(string Name, string Value)> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        _headers = [];
        foreach (var (name, value) in headers)
        {
            Add((name, value));
        }
    }

    /// <summary>The number of headers, repeated names counted each time.</summary>
    public int Count => _headers.Count;

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public (string Name, string Value) this[int index]
    {
        get => _headers[index];
        set
        {
            Check(value.Name, value.Value);
            _headers[index] = value;
        }
    }

    /// <summary>
    /// Gets the first value of header <paramref name="name"/> (<see langword="null"/> if absent), or replaces every
    /// header of that name with one at the end.
    /// </summary>
    /// <param name="name">The header name, in any case.</param>
    public string? this[string name]
    {
        get => Get(name);
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            Remove(name);
            Add((name, value));
        }
    }

    /// <summary>The first value of header <paramref name="name"/>, or <paramref name="defaultValue"/>.</summary>
    /// <param name="name">The header name, in any case.</param>
    /// <param name="defaultValue">What to return when the header is absent.</param>
    /// <returns>The value.</returns>
    public string? Get(string name, string? defaultValue = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var header in _headers)
        {
            if (string.Equals(header.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return header.Value;
            }
        }

        return defaultValue;
    }

    /// <summary>Every value of header <paramref name="name"/>, in order; empty when absent.</summary>
    /// <param name="name">The header name, in any case.</param>
    /// <returns>The values.</returns>
    public IReadOnlyList<string> GetAll(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).ToList();
    }

    /// <summary>Whether a header named <paramref name="name"/> is present.</summary>
    /// <param name="name">The header name, in any case.</param>
    /// <returns><see langword="true"/> if present.</returns>
    public bool Contains(string name) => Get(name) is not null;

    /// <summary>Removes every header named <paramref name="name"/>; absent names are fine.</summary>
    /// <param name="name">The header name, in any case.</param>
    /// <returns>How many headers were removed.</returns>
    public int Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _headers.RemoveAll(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Returns the first value of <paramref name="name"/>, adding it with <paramref name="value"/> if absent.</summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The value to add when absent.</param>
    /// <returns>The existing or the added value.</returns>
    public string SetDefault(string name, string value)
    {
        var existing = Get(name);
        if (existing is not null)
        {
            return existing;
        }

        Add((name, value));
        return value;
    }

    /// <summary>
    /// Adds a header with MIME-style parameters, such as
    /// <c>AddHeader("Content-Disposition", "attachment", ("filename", "report.pdf"))</c> giving
    /// <c>attachment; filename="report.pdf"</c>. A null or empty value adds the bare parameter name (as
    /// wsgiref does); <c>_</c> in a name becomes <c>-</c>; a non-ASCII value is sent as RFC 8187 <c>name*=UTF-8''...</c>.
    /// </summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The main value, or <see langword="null"/> for parameters only.</param>
    /// <param name="parameters">The parameters, in order.</param>
    public void AddHeader(string name, string? value, params (string Name, string? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(parameters);
        var parts = new List<string>();
        if (value is not null)
        {
            parts.Add(value);
        }

        foreach (var (parameterName, parameterValue) in parameters)
        {
            var key = parameterName.Replace('_', '-');
            parts.Add(string.IsNullOrEmpty(parameterValue) ? key : FormatParameter(key, parameterValue));
        }

        Add((name, string.Join("; ", parts)));
    }

    /// <summary>Every header name, in order, repeated names included.</summary>
    /// <returns>A new list.</returns>
    public IReadOnlyList<string> Keys() => _headers.Select(h => h.Name).ToList();

    /// <summary>Every header value, in order.</summary>
    /// <returns>A new list.</returns>
    public IReadOnlyList<string> Values() => _headers.Select(h => h.Value).ToList();

    /// <summary>A copy of every (name, value) pair, in order.</summary>
    /// <returns>A new list.</returns>
    public IReadOnlyList<(string Name, string Value)> Items() => [.. _headers];

    /// <summary>The headers as they go on the wire: <c>Name: value</c> lines, each ending in CRLF, then a blank line.</summary>
    /// <returns>The header block.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var (name, value) in _headers)
        {
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        return text.Append("\r\n").ToString();
    }

    /// <inheritdoc/>
    public void Add((string Name, string Value) item)
    {
        Check(item.Name, item.Value);
        _headers.Add(item);
    }

    /// <inheritdoc/>
    public void Insert(int index, (string Name, string Value) item)
    {
        Check(item.Name, item.Value);
        _headers.Insert(index, item);
    }

    /// <inheritdoc/>
    public int IndexOf((string Name, string Value) item) => _headers.IndexOf(item);

    /// <inheritdoc/>
    public void RemoveAt(int index) => _headers.RemoveAt(index);

    /// <inheritdoc/>
    public void Clear() => _headers.Clear();

    /// <inheritdoc/>
    public bool Contains((string Name, string Value) item) => _headers.Contains(item);

    /// <inheritdoc/>
    public void CopyTo((string Name, string Value)[] array, int arrayIndex) => _headers.CopyTo(array, arrayIndex);

    /// <inheritdoc/>
    public bool Remove((string Name, string Value) item) => _headers.Remove(item);

    /// <inheritdoc/>
    public IEnumerator<(string Name, string Value)> GetEnumerator() => _headers.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // Refused on entry, where the mistake is made, rather than later inside start_response.
    private static void Check(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        if (ResponseRules.CheckHeaderText(name, value) is { } violation)
        {
            throw new ArgumentException(violation.Message, nameof(name));
        }
    }

    private static string FormatParameter(string key, string value)
    {
        if (!Ascii.IsValid(value))
        {
            return $"{key}*=UTF-8''{GatewayUtil.Quote(value.Replace("%", "%25", StringComparison.Ordinal), "!#$&+^`|")}";
        }

        return $"{key}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
    }
}
