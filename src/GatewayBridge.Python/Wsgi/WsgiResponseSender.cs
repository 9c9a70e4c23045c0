using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Puts the parts of a Python response (from a Python thread or a worker process) on the request's
/// <see cref="GatewayResponse"/>, where a .NET app's response goes too: the same rules, framing and writes.
/// </summary>
internal static class WsgiResponseSender
{
    /// <summary>Sends one part; <see langword="true"/> when the response is complete.</summary>
    public static async ValueTask<bool> SendAsync(WsgiResponsePart part, GatewayResponse response, ILogger logger, PathString path)
    {
        if (part.CloseFailure is { } closeFailure)
        {
            logger.GatewayAppCloseFailed(path, closeFailure);
        }

        if (part.Head is { } head)
        {
            // The status and headers meet the same rules as a .NET app's; Python kept exc_info to itself.
            var fields = head.Split('\0');
            if (fields.Length % 2 == 0)
            {
                throw new InvalidOperationException("The Python side sent a status and headers that do not pair up.");
            }

            var headers = new (string Name, string Value)[(fields.Length - 1) / 2];
            for (var i = 0; i < headers.Length; i++)
            {
                headers[i] = (fields[1 + (2 * i)], fields[2 + (2 * i)]);
            }

            response.Start(fields[0], headers);
        }

        switch (part.Kind)
        {
            case WsgiPartKind.CloseFailed:
                return false;
            case WsgiPartKind.Chunk:
                await response.WriteChunkAsync(part.Data);
                return false;
            case WsgiPartKind.Length:
                // A list body too long for one frame: its length is known, so it gets a Content-Length.
                await response.StartBodyAsync(part.Total);
                await response.WriteChunkAsync(part.Data);
                return false;
            case WsgiPartKind.Whole:
                await response.WriteWholeBodyAsync(part.Data);
                break;
            case WsgiPartKind.File:
                await SendFileAsync(part.File!, response);
                break;
            case WsgiPartKind.Error:
                throw part.Error!;
        }

        await response.CompleteAsync();
        return true;
    }

    // A path (the file's own, or a worker's /proc/pid/fd/n) goes out through Kestrel's send-file path and whatever
    // middleware does with it; in the host's interpreter, a file no path names any more is copied from the shim's
    // duplicate descriptor.
    private static async Task SendFileAsync(WsgiFile file, GatewayResponse response)
    {
        if (file.Path is { } path)
        {
            await response.SendFileAsync(path, file.Offset, file.Count);
            return;
        }

        await using var stream = new FileStream(file.Descriptor!, FileAccess.Read, bufferSize: 0);
        stream.Position = file.Offset;
        await response.SendStreamAsync(stream, 64 * 1024);
    }
}
