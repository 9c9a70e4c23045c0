using System.Collections;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace GatewayBridge;

/// <summary>
/// The per-request <c>environ</c>: a complete, mutable <see cref="IDictionary{TKey, TValue}"/> that keeps the keys
/// every request has in fixed slots and the request headers in one array, so that building it costs a few
/// allocations instead of dozens of dictionary inserts (the way Katana's CallEnvironment works).
/// </summary>
/// <remarks>
/// Values that cost an allocation to format (addresses, ports, the query without its <c>?</c>) are kept raw and
/// formatted on first read. Everything a slot needs is captured when the environ is built, so reading it never
/// touches the <c>HttpContext</c>, which the server recycles once the request ends.
/// </remarks>
internal sealed partial class GatewayEnvironment : IDictionary<string, object?>
{
    internal static readonly string[] KnownKeys =
    [
        Environ.RequestMethod,
        Environ.ScriptName,
        Environ.PathInfo,
        Environ.QueryString,
        Environ.ContentType,
        Environ.ContentLength,
        Environ.ServerName,
        Environ.ServerPort,
        Environ.ServerProtocol,
        Environ.RemoteAddr,
        Environ.RemotePort,
        Environ.RemoteUser,
        Environ.RequestUri,
        Environ.Https,
        Environ.Version,
        Environ.UrlScheme,
        Environ.Input,
        Environ.Errors,
        Environ.Multithread,
        Environ.Multiprocess,
        Environ.RunOnce,
        Environ.FileWrapper,
        Environ.InputTerminated,
        Environ.HttpContext,
        Environ.RequestAborted,
    ];

    private const int KnownCount = 25;

    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;
    private static readonly object BoxedVersion = (1, 0);

    // Keys with the same value for every request (or made on first read): present from the start and stored in
    // their slot only once read or replaced, so building an environ does not write them.
    private const uint PresetSlots =
        (1u << (int)Slot.Version) | (1u << (int)Slot.Errors) | (1u << (int)Slot.Multithread) |
        (1u << (int)Slot.Multiprocess) | (1u << (int)Slot.RunOnce) | (1u << (int)Slot.FileWrapper) |
        (1u << (int)Slot.InputTerminated) | (1u << (int)Slot.RequestAborted);

    private KnownSlots _slots;
    private uint _present;
    private uint _lazy;

    private readonly KeyValuePair<string, object?>[] _headers;
    private int _headerCount;
    private Dictionary<string, object?>? _extra;
    private int _version;

    // Raw inputs of the lazily formatted slots; immutable once captured.
    private readonly string? _host;
    private readonly IPAddress? _localAddress;
    private readonly int _localPort;
    private readonly string _defaultPort = "80";
    private readonly int _remotePort;
    private readonly CancellationToken _requestAborted;
    private readonly Func<TextWriter>? _errorsFactory;
    private TextWriter? _errorsWriter;

    public GatewayEnvironment(in GatewayRequestData request)
    {
        _present = PresetSlots;
        _lazy = PresetSlots;
        Set(Slot.RequestMethod, request.Method);
        Set(Slot.ScriptName, request.ScriptName);
        Set(Slot.PathInfo, request.PathInfo);
        if (request.QueryString.Length > 1)
        {
            SetLazy(Slot.QueryString, request.QueryString);
        }
        else
        {
            Set(Slot.QueryString, "");
        }

        if (request.ContentType is not null)
        {
            Set(Slot.ContentType, request.ContentType);
        }

        if (request.ContentLength is not null)
        {
            Set(Slot.ContentLength, request.ContentLength);
        }

        _host = request.Host;
        _localAddress = request.LocalAddress;
        _localPort = request.LocalPort;
        _defaultPort = request.DefaultPort;
        if (!string.IsNullOrEmpty(_host) || _localAddress is not null)
        {
            SetLazy(Slot.ServerName, null);
            SetLazy(Slot.ServerPort, null);
        }

        Set(Slot.ServerProtocol, request.Protocol);
        if (request.RemoteAddress is not null)
        {
            _remotePort = request.RemotePort;
            SetLazy(Slot.RemoteAddr, request.RemoteAddress);
            SetLazy(Slot.RemotePort, null);
        }

        if (request.RemoteUser is not null)
        {
            Set(Slot.RemoteUser, request.RemoteUser);
        }

        Set(Slot.RequestUri, request.RequestUri);
        if (request.IsHttps)
        {
            Set(Slot.Https, "on");
        }

        Set(Slot.UrlScheme, request.Scheme);
        Set(Slot.Input, request.Input);
        _errorsFactory = request.ErrorsFactory;
        Set(Slot.HttpContext, request.HttpContext);
        _requestAborted = request.RequestAborted;

        _headers = request.Headers;
        _headerCount = request.HeaderCount;
    }

    /// <summary>The <c>wsgi.errors</c> writer, if the app ever asked for it; the server flushes it when the request ends.</summary>
    public TextWriter? ErrorsWriter => _errorsWriter;

    public int Count => BitOperations.PopCount(_present) + _headerCount + (_extra?.Count ?? 0);

    public bool IsReadOnly => false;

    public object? this[string key]
    {
        get => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The environ has no key '{key}'.");
        set => SetValue(key, value);
    }

    public ICollection<string> Keys
    {
        get
        {
            var keys = new string[Count];
            var i = 0;
            foreach (var pair in this)
            {
                keys[i++] = pair.Key;
            }

            return keys;
        }
    }

    public ICollection<object?> Values
    {
        get
        {
            var values = new object?[Count];
            var i = 0;
            foreach (var pair in this)
            {
                values[i++] = pair.Value;
            }

            return values;
        }
    }

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out object? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slot = SlotOf(key);
        if (slot >= 0)
        {
            if ((_present & (1u << slot)) != 0)
            {
                value = Read(slot);
                return true;
            }

            value = null;
            return false;
        }

        var header = IndexOfHeader(key);
        if (header >= 0)
        {
            value = _headers[header].Value;
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
        ArgumentNullException.ThrowIfNull(key);
        var slot = SlotOf(key);
        if (slot >= 0)
        {
            var bit = 1u << slot;
            if ((_present & bit) == 0)
            {
                return false;
            }

            _present &= ~bit;
            _lazy &= ~bit;
            _slots[slot] = null;
            _version++;
            return true;
        }

        var header = IndexOfHeader(key);
        if (header >= 0)
        {
            Array.Copy(_headers, header + 1, _headers, header, _headerCount - header - 1);
            _headers[--_headerCount] = default;
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
        _slots = default;
        _present = 0;
        _lazy = 0;
        Array.Clear(_headers, 0, _headerCount);
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
        for (var slot = 0; slot < KnownCount; slot++)
        {
            if ((_present & (1u << slot)) != 0)
            {
                var value = Read(slot);
                ThrowIfChanged(version);
                yield return new(KnownKeys[slot], value);
                ThrowIfChanged(version);
            }
        }

        for (var i = 0; i < _headerCount; i++)
        {
            yield return _headers[i];
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

    private void ThrowIfChanged(int version)
    {
        if (version != _version)
        {
            throw new InvalidOperationException("The environ was modified while it was being enumerated.");
        }
    }

    private void SetValue(string key, object? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slot = SlotOf(key);
        if (slot >= 0)
        {
            Set((Slot)slot, value);
        }
        else
        {
            var header = IndexOfHeader(key);
            if (header >= 0)
            {
                _headers[header] = new(key, value);
            }
            else
            {
                _extra ??= new Dictionary<string, object?>(StringComparer.Ordinal);
                _extra[key] = value;
            }
        }

        _version++;
    }

    private void Set(Slot slot, object? value)
    {
        var bit = 1u << (int)slot;
        _slots[(int)slot] = value;
        _present |= bit;
        _lazy &= ~bit;
    }

    private void SetLazy(Slot slot, object? raw)
    {
        var bit = 1u << (int)slot;
        _slots[(int)slot] = raw;
        _present |= bit;
        _lazy |= bit;
    }

    private object? Read(int slot)
    {
        if ((_lazy & (1u << slot)) != 0)
        {
            _slots[slot] = Format((Slot)slot);
            _lazy &= ~(1u << slot);
        }

        return _slots[slot];
    }

    private object? Format(Slot slot)
    {
        switch (slot)
        {
            case Slot.QueryString:
                return EnvironFormat.QueryWithoutMark((string)_slots[(int)slot]!);
            case Slot.ServerName:
                return EnvironFormat.ServerName(_host, _localAddress);
            case Slot.ServerPort:
                return EnvironFormat.ServerPort(_host, _localPort, _defaultPort);
            case Slot.RemoteAddr:
                return EnvironFormat.Address((IPAddress)_slots[(int)slot]!);
            case Slot.RemotePort:
                return EnvironFormat.Port(_remotePort);
            case Slot.Errors:
                _errorsWriter = _errorsFactory?.Invoke() ?? TextWriter.Null;
                return _errorsWriter;
            case Slot.RequestAborted:
                return _requestAborted;
            case Slot.Version:
                return BoxedVersion;
            case Slot.Multithread or Slot.InputTerminated:
                return BoxedTrue;
            case Slot.Multiprocess or Slot.RunOnce:
                return BoxedFalse;
            case Slot.FileWrapper:
                return FileWrapper.Factory;
            default:
                throw new UnreachableException($"Slot {slot} is never lazy.");
        }
    }

    private int IndexOfHeader(string key)
    {
        if (_headerCount == 0 || !key.StartsWith(Environ.HttpHeaderPrefix, StringComparison.Ordinal))
        {
            return -1;
        }

        for (var i = 0; i < _headerCount; i++)
        {
            if (string.Equals(_headers[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private static int SlotOf(string key) => key switch
    {
        Environ.RequestMethod => (int)Slot.RequestMethod,
        Environ.ScriptName => (int)Slot.ScriptName,
        Environ.PathInfo => (int)Slot.PathInfo,
        Environ.QueryString => (int)Slot.QueryString,
        Environ.ContentType => (int)Slot.ContentType,
        Environ.ContentLength => (int)Slot.ContentLength,
        Environ.ServerName => (int)Slot.ServerName,
        Environ.ServerPort => (int)Slot.ServerPort,
        Environ.ServerProtocol => (int)Slot.ServerProtocol,
        Environ.RemoteAddr => (int)Slot.RemoteAddr,
        Environ.RemotePort => (int)Slot.RemotePort,
        Environ.RemoteUser => (int)Slot.RemoteUser,
        Environ.RequestUri => (int)Slot.RequestUri,
        Environ.Https => (int)Slot.Https,
        Environ.Version => (int)Slot.Version,
        Environ.UrlScheme => (int)Slot.UrlScheme,
        Environ.Input => (int)Slot.Input,
        Environ.Errors => (int)Slot.Errors,
        Environ.Multithread => (int)Slot.Multithread,
        Environ.Multiprocess => (int)Slot.Multiprocess,
        Environ.RunOnce => (int)Slot.RunOnce,
        Environ.FileWrapper => (int)Slot.FileWrapper,
        Environ.InputTerminated => (int)Slot.InputTerminated,
        Environ.HttpContext => (int)Slot.HttpContext,
        Environ.RequestAborted => (int)Slot.RequestAborted,
        _ => -1,
    };

    private enum Slot
    {
        RequestMethod,
        ScriptName,
        PathInfo,
        QueryString,
        ContentType,
        ContentLength,
        ServerName,
        ServerPort,
        ServerProtocol,
        RemoteAddr,
        RemotePort,
        RemoteUser,
        RequestUri,
        Https,
        Version,
        UrlScheme,
        Input,
        Errors,
        Multithread,
        Multiprocess,
        RunOnce,
        FileWrapper,
        InputTerminated,
        HttpContext,
        RequestAborted,
    }

    [InlineArray(KnownCount)]
    private struct KnownSlots
    {
        private object? _element;
    }
}
