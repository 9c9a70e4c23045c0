using System.Collections;

namespace GatewayBridge;

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
