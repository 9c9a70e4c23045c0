namespace GatewayBridge.Python.Tests.Infrastructure;

/// <summary>Frames as bytes, for tests that play the host or a worker on a raw socket.</summary>
internal static class Frames
{
    /// <summary>The whole frame, its buffer given back.</summary>
    public static byte[] Bytes(FrameBuilder frame)
    {
        using (frame)
        {
            return frame.Span.ToArray();
        }
    }
}
