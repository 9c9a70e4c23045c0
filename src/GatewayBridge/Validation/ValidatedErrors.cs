using System.Text;

namespace GatewayBridge;

/// <summary>wsgi.errors as the app may use it: written and flushed, never closed by the app.</summary>
internal sealed class ValidatedErrors(TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value) => inner.Write(value);

    public override void Write(string? value) => inner.Write(value);

    public override void Write(char[] buffer, int index, int count) => inner.Write(buffer, index, count);

    public override void Flush() => inner.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            throw new GatewayValidationException(RuleIds.ErrorsClose, "the app must not close or dispose wsgi.errors; the server owns it.");
        }

        base.Dispose(disposing);
    }
}
