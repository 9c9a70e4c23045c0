using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;

namespace GatewayBridge;

/// <summary>
/// The per-request <c>environ</c>: a complete, mutable <see cref="IDictionary{TKey, TValue}"/> that reads each
/// key of <see cref="EnvironTable"/> from the request the first time it is asked for, and keeps what it read.
/// </summary>
/// <remarks>
/// It belongs to its request, as the <c>HttpContext</c> does: <see cref="Seal"/> ends it when the response ends.
/// Values read or written before then stay; a key first read after it throws <see cref="ObjectDisposedException"/>,
/// because the server has recycled what it would be read from. Like <see cref="Dictionary{TKey, TValue}"/> it is
/// not safe to use from several threads at once.
/// </remarks>
internal sealed class EnvironDictionary : EnvironSource, IDictionary<string, object?>
{
    // A slot holds null until its key is read, Absent once read and missing (or removed), StoredNull for an app's null.
    private static readonly object Absent = new();
    private static readonly object StoredNull = new();

    private Slots _slots;
    private KeyValuePair<string, object?>[]? _headers;
    private int _headerCount;
    private Dictionary<string, object?>? _extra;
    private int _version;
    private volatile bool _sealed;

    public EnvironDictionary(
        HttpContext context, string scriptName, string pathInfo, Stream input, bool allowUnderscoreHeaders = false,
        Func<TextWriter>? errorsFactory = null, CancellationToken requestAborted = default)
        : base(context, scriptName, pathInfo, input, allowUnderscoreHeaders, errorsFactory, requestAborted)
    {
    }

    public int Count
    {
        get
        {
            var count = HeaderCount + (_extra?.Count ?? 0);
            for (var slot = 0; slot < EnvironTable.Count; slot++)
            {
                if (!ReferenceEquals(Slot(slot), Absent))
                {
                    count++;
                }
            }

            return count;
        }
    }

    public bool IsReadOnly => false;

    public object? this[string key]
    {
        get => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The environ has no key '{key}'.");
        set => SetValue(key, value);
    }

    public ICollection<string> Keys => this.Select(static pair => pair.Key).ToArray();

    public ICollection<object?> Values => this.Select(static pair => pair.Value).ToArray();

    /// <summary>
    /// Ends the environ with its request: from now on nothing more is read from the request, which the server is
    /// about to recycle for the next one.
    /// </summary>
    public void Seal()
    {
        _sealed = true;
        EndRequest();
    }

    /// <summary>The request headers as <c>HTTP_*</c> entries (captured on first use), for hosts that pass them on in bulk.</summary>
    public ReadOnlySpan<KeyValuePair<string, object?>> HttpHeaders
    {
        get
        {
            var headers = CapturedHeaders();
            return headers.AsSpan(0, _headerCount);
        }
    }

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out object? value)
    {
        if (EnvironTable.Index.TryGetValue(key, out var slot))
        {
            var stored = Slot(slot);
            var present = !ReferenceEquals(stored, Absent);
            value = present && !ReferenceEquals(stored, StoredNull) ? stored : null;
            return present;
        }

        var header = IndexOfHeader(key);
        if (header >= 0)
        {
            value = _headers![header].Value;
            return true;
        }

        if (_extra is not null)
        {
            return _extra.TryGetValue(key, out value);
        }

        value = null;
        return false;
    }

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public void Add(string key, object? value)
    {
        if (ContainsKey(key))
        {
            throw new ArgumentException($"The environ already has the key '{key}'.", nameof(key));
        }

        SetValue(key, value);
    }

    public bool Remove(string key)
    {
        if (EnvironTable.Index.TryGetValue(key, out var slot))
        {
            if (ReferenceEquals(Slot(slot), Absent))
            {
                return false;
            }

            _slots[slot] = Absent;
            _version++;
            return true;
        }

        var header = IndexOfHeader(key);
        if (header >= 0)
        {
            var headers = _headers!;
            Array.Copy(headers, header + 1, headers, header, _headerCount - header - 1);
            headers[--_headerCount] = default;
            _version++;
            return true;
        }

        if (_extra is not null && _extra.Remove(key))
        {
            _version++;
            return true;
        }

        return false;
    }

    public void Clear()
    {
        ((Span<object?>)_slots).Fill(Absent);
        _headers = [];
        _headerCount = 0;
        _extra?.Clear();
        _version++;
    }

    public void Add(KeyValuePair<string, object?> item) => Add(item.Key, item.Value);

    public bool Contains(KeyValuePair<string, object?> item) =>
        TryGetValue(item.Key, out var value) && EqualityComparer<object?>.Default.Equals(value, item.Value);

    public bool Remove(KeyValuePair<string, object?> item) => Contains(item) && Remove(item.Key);

    public void CopyTo(KeyValuePair<string, object?>[] array, int arrayIndex)
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentOutOfRangeException.ThrowIfNegative(arrayIndex);
        if (array.Length - arrayIndex < Count)
        {
            throw new ArgumentException("The destination array is too small for the environ.", nameof(array));
        }

        foreach (var pair in this)
        {
            array[arrayIndex++] = pair;
        }
    }

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        var version = _version;
        for (var slot = 0; slot < EnvironTable.Count; slot++)
        {
            var value = Slot(slot);
            if (!ReferenceEquals(value, Absent))
            {
                yield return new(EnvironTable.Keys[slot].Name, ReferenceEquals(value, StoredNull) ? null : value);
                ThrowIfChanged(version);
            }
        }

        var headers = CapturedHeaders();
        for (var i = 0; i < _headerCount; i++)
        {
            yield return headers[i];
            ThrowIfChanged(version);
        }

        if (_extra is not null)
        {
            foreach (var pair in _extra)
            {
                yield return pair;
                ThrowIfChanged(version);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int HeaderCount
    {
        get
        {
            _ = CapturedHeaders();
            return _headerCount;
        }
    }

    private void ThrowIfChanged(int version)
    {
        if (version != _version)
        {
            throw new InvalidOperationException("The environ was modified while it was being enumerated.");
        }
    }

    private void SetValue(string key, object? value)
    {
        if (EnvironTable.Index.TryGetValue(key, out var slot))
        {
            _slots[slot] = value ?? StoredNull;
        }
        else if (IndexOfHeader(key) is var header and >= 0)
        {
            _headers![header] = new(key, value);
        }
        else
        {
            _extra ??= new Dictionary<string, object?>(StringComparer.Ordinal);
            _extra[key] = value;
        }

        _version++;
    }

    /// <summary>The slot's value, reading it from the request on first use.</summary>
    private object Slot(int slot) => _slots[slot] ?? ReadSlot(slot);

    private object ReadSlot(int slot)
    {
        var key = EnvironTable.Keys[slot];
        ThrowIfSealed(key.Name);
        var value = key.Read(this) ?? Absent;

        // Checked again after the read: a thread that kept the environ and raced the end of the request may have
        // read from a request the server has already moved on to; that value must never be seen. The barrier keeps
        // the reads above from moving past the check on weakly ordered processors.
        Interlocked.MemoryBarrier();
        ThrowIfSealed(key.Name);
        _slots[slot] = value;
        return value;
    }

    private KeyValuePair<string, object?>[] CapturedHeaders()
    {
        if (_headers is { } headers)
        {
            return headers;
        }

        ThrowIfSealed("HTTP_*");
        int count;
        try
        {
            headers = EnvironHeaders.Capture(Request.Headers, AllowUnderscoreHeaders, out count);
        }
        catch (ArgumentException) when (_sealed)
        {
            // The headers changed under a read that raced the end of the request.
            throw Sealed("HTTP_*");
        }

        Interlocked.MemoryBarrier();
        ThrowIfSealed("HTTP_*");
        _headerCount = count;
        return _headers = headers;
    }

    private void ThrowIfSealed(string key)
    {
        if (_sealed)
        {
            throw Sealed(key);
        }
    }

    private static ObjectDisposedException Sealed(string key) => new(
        nameof(EnvironDictionary),
        $"The environ's request has ended, so '{key}' can no longer be read from it: an environ is valid until the response's close(). Read the values you need while the request runs, or copy them.");

    private int IndexOfHeader(string key)
    {
        if (!key.StartsWith(Environ.HttpHeaderPrefix, StringComparison.Ordinal))
        {
            return -1;
        }

        var headers = CapturedHeaders();
        for (var i = 0; i < _headerCount; i++)
        {
            if (string.Equals(headers[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    // The slots live inside the environ: one allocation per request, not two.
    [InlineArray(EnvironTable.Count)]
    private struct Slots
    {
        private object? _first;
    }
}
