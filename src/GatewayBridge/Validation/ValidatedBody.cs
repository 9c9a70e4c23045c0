using System.Collections;

namespace GatewayBridge.Validation;

/// <summary>Checks a lazy body: chunks are byte arrays, start_response came first, nothing is read after close.</summary>
internal sealed class ValidatedIterable(IEnumerable<byte[]> inner, ValidatedCall call) : IEnumerable<byte[]>, IDisposable
{
    private IEnumerator<byte[]>? _enumerator;

    public IEnumerator<byte[]> GetEnumerator()
    {
        Rules.Check(_enumerator is null, RuleIds.IterableEnumeratedTwice, "the server enumerated the iterable twice.");
        Rules.Check(!call.Closed, RuleIds.IterableReadAfterClose, "the iterable was enumerated after it was disposed.");
        _enumerator = inner.GetEnumerator();
        return new Enumerator(_enumerator, call);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        call.MarkClosed();
        if (inner is IDisposable disposable && !ReferenceEquals(inner, _enumerator))
        {
            disposable.Dispose();
        }
    }

    private sealed class Enumerator(IEnumerator<byte[]> inner, ValidatedCall call) : IEnumerator<byte[]>
    {
        public byte[] Current { get; private set; } = [];

        object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            Rules.Check(!call.Closed, RuleIds.IterableReadAfterClose, "the iterable was read after it was disposed.");
            if (!inner.MoveNext())
            {
                Rules.Check(call.Started, RuleIds.StartResponseMissing, "the iterable ended without start_response ever being called.");
                return false;
            }

            var chunk = inner.Current;
            Rules.Check(chunk is not null, RuleIds.IterableChunkType, "the iterable yielded null; yield byte arrays.");
            Rules.Check(call.Started || chunk.Length == 0, RuleIds.IterableBeforeStart, "the iterable yielded body bytes before start_response was called.");
            Current = chunk;
            return true;
        }

        public void Reset() => throw new NotSupportedException();

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>Checks a materialized body while keeping it a list, so the server still sends it with a Content-Length.</summary>
internal sealed class ValidatedList(IList<byte[]> inner, ValidatedCall call) : IList<byte[]>, IDisposable
{
    public int Count => inner.Count;

    public bool IsReadOnly => true;

    public byte[] this[int index]
    {
        get
        {
            Rules.Check(!call.Closed, RuleIds.IterableReadAfterClose, "the iterable was read after it was disposed.");
            var chunk = inner[index];
            Rules.Check(chunk is not null, RuleIds.IterableChunkType, "the iterable holds null; use byte arrays.");
            return chunk;
        }

        set => throw new NotSupportedException();
    }

    public IEnumerator<byte[]> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        call.MarkClosed();
        (inner as IDisposable)?.Dispose();
    }

    public int IndexOf(byte[] item) => inner.IndexOf(item);

    public bool Contains(byte[] item) => inner.Contains(item);

    public void CopyTo(byte[][] array, int arrayIndex) => inner.CopyTo(array, arrayIndex);

    public void Add(byte[] item) => throw new NotSupportedException();

    public void Insert(int index, byte[] item) => throw new NotSupportedException();

    public bool Remove(byte[] item) => throw new NotSupportedException();

    public void RemoveAt(int index) => throw new NotSupportedException();

    public void Clear() => throw new NotSupportedException();
}
