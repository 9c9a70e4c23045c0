using System.Collections;

namespace GatewayBridge;

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
