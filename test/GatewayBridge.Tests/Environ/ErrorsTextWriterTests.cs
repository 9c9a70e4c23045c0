using GatewayBridge.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Tests;

public class ErrorsTextWriterTests
{
    private readonly ListLoggerProvider _logs = new();

    [Fact]
    public void ALineWrittenInPieces_IsOneEvent_WithoutItsLineEnd()
    {
        using var errors = Writer();

        errors.Write('a');
        errors.Write("b");
        errors.Write(['x', 'c', 'y'], 1, 1);
        errors.Write("d\r\nsecond\n".AsSpan());

        Assert.Equal(["abcd", "second"], Lines());
        Assert.All(_logs.Entries, e => Assert.Equal((ErrorsTextWriter.Category, LogLevel.Warning, 100), (e.Category, e.Level, e.EventId.Id)));
    }

    [Fact]
    public void AnEmptyLine_IsAnEmptyEvent_AndALoneCarriageReturnIsKept()
    {
        using var errors = Writer();

        errors.Write('\n');
        errors.Write("\r\n");
        errors.Write("a\rb\n");

        Assert.Equal(["", "", "a\rb"], Lines());
    }

    [Fact]
    public void Flush_EmitsAPartialLine_ButNothingWhenThereIsNone()
    {
        using var errors = Writer();

        errors.Flush();
        Assert.Empty(Lines());

        errors.Write("half");
        errors.Flush();
        errors.Flush();
        Assert.Equal(["half"], Lines());
    }

    [Fact]
    public void Disposing_FlushesWhatIsLeft()
    {
        var errors = Writer();
        errors.Write("last words");
        Assert.Empty(Lines());

        errors.Dispose();

        Assert.Equal(["last words"], Lines());
    }

    private ErrorsTextWriter Writer() => new(_logs.CreateLogger(ErrorsTextWriter.Category));

    private string[] Lines() => [.. _logs.Entries.Select(e => e.Message)];
}
