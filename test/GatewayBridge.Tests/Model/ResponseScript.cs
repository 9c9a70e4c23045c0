using System.Globalization;
using System.Text;

namespace GatewayBridge.Tests.Model;

/// <summary>How a generated app declares its Content-Length against the bytes it then produces.</summary>
public enum DeclaredLength
{
    None,
    Exact,
    TooLong,
    TooShort,
}

/// <summary>How a generated app hands over its body.</summary>
public enum BodyKind
{
    List,
    Iterator,
    File,
}

/// <summary>One step of a generated app, run in order (in the app call for a list or file body, in the iterator otherwise).</summary>
public abstract record ScriptStep;

/// <summary>An iterator chunk (possibly empty), or an element of a list body.</summary>
public sealed record Chunk(int Size) : ScriptStep;

/// <summary>A call of the write callable.</summary>
public sealed record Write(int Size) : ScriptStep;

/// <summary>The app raises.</summary>
public sealed record Fail : ScriptStep;

/// <summary>start_response again, with excInfo, for another status.</summary>
public sealed record Restart(int Code) : ScriptStep;

/// <summary>A generated gateway app: its first status, its headers' Content-Length, its body and the steps it takes.</summary>
public sealed record ResponseScript(
    int Code, bool ContentType, DeclaredLength Length, BodyKind Kind, bool StartInBody, IReadOnlyList<ScriptStep> Steps, int FileSize, IReadOnlyList<(string Name, string Value)> Headers)
{
    /// <summary>The headers the model follows on the wire (repeatable ones among them); others are the server's business.</summary>
    public static readonly string[] CheckedHeaders = ["X-Start", "X-Restart", "Set-Cookie", "X-Custom", "Cache-Control", "Vary"];

    public static readonly IReadOnlyDictionary<int, string> Reasons = new Dictionary<int, string>
    {
        [200] = "OK",
        [201] = "Created",
        [204] = "No Content",
        [205] = "Reset Content",
        [299] = "Fine Anyway",
        [304] = "Not Modified",
        [404] = "Not Found",
        [500] = "Internal Server Error",
    };

    /// <summary>The bytes the app produces, in order, if nothing fails: writes and chunks (and the file).</summary>
    public int ProducedLength => Kind == BodyKind.File
        ? Steps.OfType<Write>().Sum(w => w.Size) + FileSize
        : Steps.Sum(s => s switch { Chunk c => c.Size, Write w => w.Size, _ => 0 });

    /// <summary>The Content-Length the first start_response declares, if any.</summary>
    public long? Declared => Length switch
    {
        DeclaredLength.Exact => ProducedLength,
        DeclaredLength.TooLong => ProducedLength + 5,
        DeclaredLength.TooShort => Math.Max(0, ProducedLength - 3),
        _ => null,
    };

    /// <summary>The n-th byte the app produces: a running pattern, so a byte out of place shows.</summary>
    public static byte ByteAt(int offset) => (byte)('a' + (offset % 26));

    public static byte[] Bytes(int start, int count) => Enumerable.Range(start, count).Select(ByteAt).ToArray();

    public override string ToString()
    {
        var text = new StringBuilder(FormattableString.Invariant($"{Code} {(ContentType ? "+type" : "-type")} length:{Length} {Kind}{(StartInBody ? " start-in-body" : "")}"));
        if (Kind == BodyKind.File)
        {
            text.Append(CultureInfo.InvariantCulture, $" file:{FileSize}");
        }

        foreach (var (name, value) in Headers)
        {
            text.Append(CultureInfo.InvariantCulture, $" [{name}: {value}]");
        }

        foreach (var step in Steps)
        {
            text.Append(' ').Append(step switch
            {
                Chunk c => FormattableString.Invariant($"chunk({c.Size})"),
                Write w => FormattableString.Invariant($"write({w.Size})"),
                Fail => "fail",
                Restart r => FormattableString.Invariant($"restart({r.Code})"),
                _ => "?",
            });
        }

        return text.ToString();
    }
}
