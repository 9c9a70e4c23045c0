using System.Text;

namespace GatewayBridge;

/// <summary>wsgi.input as the app may use it: read-only, forward-only, never closed by the app.</summary>
internal sealed class ValidatedInput(Stream inner) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw Violation(RuleIds.InputSeek, "wsgi.input has no length; read CONTENT_LENGTH, or read to the end.");

    public override long Position
    {
        get => throw Violation(RuleIds.InputSeek, "wsgi.input is forward-only.");
        set => throw Violation(RuleIds.InputSeek, "wsgi.input is forward-only.");
    }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw Violation(RuleIds.InputSeek, "wsgi.input is forward-only.");

    public override void SetLength(long value) => throw Violation(RuleIds.InputWrite, "wsgi.input is read-only.");

    public override void Write(byte[] buffer, int offset, int count) => throw Violation(RuleIds.InputWrite, "wsgi.input is read-only.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            throw Violation(RuleIds.InputClose, "the app must not close or dispose wsgi.input; the server owns it (use leaveOpen: true with readers).");
        }

        base.Dispose(disposing);
    }

    private static GatewayValidationException Violation(string rule, string message) => new(rule, message);
}
