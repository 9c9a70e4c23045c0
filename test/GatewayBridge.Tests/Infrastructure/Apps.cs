using System.Text;

namespace GatewayBridge.Tests.Infrastructure;

/// <summary>Small gateway apps and helpers shared by the tests; all of them follow the validator's rules.</summary>
public static class Apps
{
    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Answers with the environ value of <paramref name="key"/> (or "&lt;absent&gt;").</summary>
    public static GatewayApp Echo(string key) => (environ, startResponse) =>
    {
        startResponse("200 OK", [("Content-Type", "text/plain")]);
        return [Bytes(environ.TryGetValue(key, out var value) ? value?.ToString() ?? "<null>" : "<absent>")];
    };

    /// <summary>Answers with the given keys' values, one "KEY=value" per line.</summary>
    public static GatewayApp EchoMany(params string[] keys) => (environ, startResponse) =>
    {
        startResponse("200 OK", [("Content-Type", "text/plain")]);
        var lines = keys.Select(k => $"{k}={(environ.TryGetValue(k, out var v) ? v : "<absent>")}");
        return [Bytes(string.Join("\n", lines))];
    };

    /// <summary>Captures the environ the app saw (a copy, so later changes do not show).</summary>
    public static GatewayApp Capture(Action<Dictionary<string, object?>> sink) => (environ, startResponse) =>
    {
        sink(new Dictionary<string, object?>(environ));
        startResponse("200 OK", [("Content-Type", "text/plain")]);
        return [Bytes("captured")];
    };
}

/// <summary>An iterable that records how often it and its enumerator are disposed.</summary>
public sealed class TrackedBody(Func<IEnumerator<byte[]>> produce) : IEnumerable<byte[]>, IDisposable
{
    private int _disposed;
    private int _enumeratorDisposed;

    public int Disposed => _disposed;

    public int EnumeratorDisposed => _enumeratorDisposed;

    public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IEnumerator<byte[]> GetEnumerator() => new Enumerator(this, produce());

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        Interlocked.Increment(ref _disposed);
        Closed.TrySetResult();
    }

    private sealed class Enumerator(TrackedBody owner, IEnumerator<byte[]> inner) : IEnumerator<byte[]>
    {
        public byte[] Current => inner.Current;

        object System.Collections.IEnumerator.Current => Current;

        public bool MoveNext() => inner.MoveNext();

        public void Reset() => inner.Reset();

        public void Dispose()
        {
            Interlocked.Increment(ref owner._enumeratorDisposed);
            inner.Dispose();
        }
    }
}

/// <summary>A body that is its own enumerator (as an iterator method's object is), counting every Dispose.</summary>
public sealed class SelfEnumeratingBody(IReadOnlyList<byte[]> chunks, bool failOnDispose = false) : IEnumerable<byte[]>, IEnumerator<byte[]>
{
    private int _index = -1;
    private int _disposed;

    public int Disposed => _disposed;

    public byte[] Current => chunks[_index];

    object System.Collections.IEnumerator.Current => Current;

    public IEnumerator<byte[]> GetEnumerator() => this;

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => this;

    public bool MoveNext() => ++_index < chunks.Count;

    public void Reset() => _index = -1;

    public void Dispose()
    {
        Interlocked.Increment(ref _disposed);
        if (failOnDispose)
        {
            throw new InvalidOperationException("close failed");
        }
    }
}
