using System.Text;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// <c>wsgi.errors</c>: collects what the app writes and logs it one line at a time, so that a line written in
/// pieces stays one log event and nothing half-written is lost when the request ends (the server flushes).
/// </summary>
internal sealed class ErrorsTextWriter : TextWriter
{
    /// <summary>The logging category of <c>wsgi.errors</c>, kept apart from the bridge's own events.</summary>
    public const string Category = "GatewayBridge.Errors";

    private readonly ILogger _logger;
    private readonly StringBuilder _line = new();

    public ErrorsTextWriter(ILogger logger)
    {
        _logger = logger;
    }

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_line)
        {
            Append(value);
        }
    }

    public override void Write(string? value) => Write(value.AsSpan());

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(ReadOnlySpan<char> buffer)
    {
        lock (_line)
        {
            foreach (var c in buffer)
            {
                Append(c);
            }
        }
    }

    public override void Flush()
    {
        lock (_line)
        {
            if (_line.Length > 0)
            {
                EmitLine();
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Flush();
        }

        base.Dispose(disposing);
    }

    private void Append(char c)
    {
        if (c == '\n')
        {
            EmitLine();
        }
        else
        {
            _line.Append(c);
        }
    }

    private void EmitLine()
    {
        var length = _line.Length;
        if (length > 0 && _line[length - 1] == '\r')
        {
            length--;
        }

        _logger.AppErrorsLine(_line.ToString(0, length));
        _line.Clear();
    }
}
