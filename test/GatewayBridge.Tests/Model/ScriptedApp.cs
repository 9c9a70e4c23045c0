using Microsoft.AspNetCore.Http;

namespace GatewayBridge.Tests.Model;

/// <summary>
/// A gateway app that follows a <see cref="ResponseScript"/>, counting its own close()s and noting at each step
/// whether the response had started, for the model to judge. With <paramref name="stallAt"/>, it stops before that
/// step until the request is aborted (a client that leaves mid-response), then carries on with its script.
/// </summary>
public sealed class ScriptedApp(ResponseScript script, string? filePath, int? stallAt = null)
{
    private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The message of every exception the app raises (a failure, or the excInfo a late restart rethrows).</summary>
    public const string FailureMessage = "The scripted app fails here.";

    private int _closes;
    private int _offset;
    private WriteBody? _write;

    public int Closes => Volatile.Read(ref _closes);

    /// <summary>Completes when the app reaches its stall: what it produced before is all the client will get.</summary>
    public Task Stalled => _stalled.Task;

    /// <summary>Whether the server called the app (it may not, for a client that left first).</summary>
    public bool Called { get; private set; }

    /// <summary>
    /// Points where the app got control back (after a yield) and the response's start (HasStarted) disagreed with
    /// whether headers were due: the server sends what is due each time the app hands control back (a write()'s bytes
    /// go out then, not from inside the app's own step: no synchronous I/O on the app's thread).
    /// </summary>
    public List<string> EarlyOrLateHeaders { get; } = [];

    /// <summary>
    /// How many close()s the app must see: one for what it returned. An iterator app always returns its iterable; a
    /// list or file app returns nothing when a step in its call fails (a failure, or a restart once headers were due).
    /// </summary>
    public int ExpectedCloses
    {
        get
        {
            if (script.Kind == BodyKind.Iterator)
            {
                return 1;
            }

            var due = false;
            foreach (var step in script.Steps)
            {
                due |= step is Write;
                if (step is Fail || (step is Restart && due))
                {
                    return 0;
                }
            }

            return 1;
        }
    }

    public IEnumerable<byte[]> Handle(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        Called = true;
        ((Stream)environ[Environ.Input]!).CopyTo(Stream.Null);
        var context = (HttpContext)environ[Environ.HttpContext]!;
        if (script.Kind == BodyKind.Iterator)
        {
            if (!script.StartInBody)
            {
                _write = Start(startResponse);
            }

            return new CountedIterable(this, Iterate(startResponse, context));
        }

        _write = Start(startResponse);
        var list = new CountedList(this);
        var chunkOffset = script.Steps.OfType<Write>().Sum(w => w.Size);
        for (var i = 0; i < script.Steps.Count; i++)
        {
            var step = script.Steps[i];
            StallIfDue(i, context);
            switch (step)
            {
                case Chunk c:
                    list.Add(ResponseScript.Bytes(chunkOffset, c.Size));
                    chunkOffset += c.Size;
                    break;
                default:
                    Run(step, startResponse);
                    break;
            }
        }

        StallIfDue(script.Steps.Count, context);
        if (script.Kind == BodyKind.File)
        {
            var wrap = (Func<Stream, int, IEnumerable<byte[]>>)environ[Environ.FileWrapper]!;
            return wrap(new CountedFileStream(this, filePath!), 4096);
        }

        return list;
    }

    private IEnumerable<byte[]> Iterate(StartResponse startResponse, HttpContext context)
    {
        if (script.StartInBody)
        {
            _write = Start(startResponse);
        }

        var due = false;
        for (var i = 0; i < script.Steps.Count; i++)
        {
            var step = script.Steps[i];
            StallIfDue(i, context);
            if (step is Chunk c)
            {
                due |= c.Size > 0;
                yield return ResponseScript.Bytes(_offset, c.Size);
                _offset += c.Size;
                if (context.Response.HasStarted != due)
                {
                    EarlyOrLateHeaders.Add($"after {step}: started {context.Response.HasStarted}, due {due}");
                }
            }
            else
            {
                due |= step is Write;
                Run(step, startResponse);
            }
        }

        StallIfDue(script.Steps.Count, context);
    }

    private void StallIfDue(int index, HttpContext context)
    {
        if (index != stallAt)
        {
            return;
        }

        _stalled.TrySetResult();
        NeverAborted = !context.RequestAborted.WaitHandle.WaitOne(TimeSpan.FromSeconds(10));
    }

    /// <summary>Whether the app stalled and its request was never aborted, though the client left.</summary>
    public bool NeverAborted { get; private set; }

    private void Run(ScriptStep step, StartResponse startResponse)
    {
        switch (step)
        {
            case Write w:
                _write!(ResponseScript.Bytes(_offset, w.Size));
                _offset += w.Size;
                break;
            case Fail:
                throw new InvalidOperationException(FailureMessage);
            case Restart r:
                // excInfo never thrown before: start_response rethrows it once headers are out.
                startResponse($"{r.Code} {ResponseScript.Reasons[r.Code]}", [("Content-Type", "text/plain"), ("X-Restart", r.Code.ToString(System.Globalization.CultureInfo.InvariantCulture))], new InvalidOperationException(FailureMessage));
                break;
        }
    }

    private WriteBody Start(StartResponse startResponse)
    {
        var headers = new List<(string, string)> { ("X-Start", "1") };
        if (script.ContentType)
        {
            headers.Add(("Content-Type", "application/octet-stream"));
        }

        headers.AddRange(script.Headers);

        if (script.Declared is long declared)
        {
            headers.Add(("Content-Length", declared.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return startResponse($"{script.Code} {ResponseScript.Reasons[script.Code]}", headers);
    }

    private sealed class CountedIterable(ScriptedApp app, IEnumerable<byte[]> inner) : IEnumerable<byte[]>, IDisposable
    {
        public IEnumerator<byte[]> GetEnumerator() => inner.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public void Dispose() => Interlocked.Increment(ref app._closes);
    }

    private sealed class CountedList(ScriptedApp app) : List<byte[]>, IDisposable
    {
        public void Dispose() => Interlocked.Increment(ref app._closes);
    }

    private sealed class CountedFileStream(ScriptedApp app, string path) : FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read)
    {
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Interlocked.Increment(ref app._closes);
            }

            base.Dispose(disposing);
        }
    }
}
