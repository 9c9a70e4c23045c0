using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace GatewayBridge.Python;

/// <summary>
/// What .NET's <see cref="Socket"/> does not offer on Linux and the transport needs: a socket pair, sends and receives
/// that never wait whatever the socket's mode, and a descriptor passed to the other process (<c>SCM_RIGHTS</c>).
/// </summary>
internal static class UnixSockets
{
    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;
    public const int EAgain = 11;
    public const int EIntr = 4;
    public const int EMsgSize = 90;

    private const int AfUnix = 1;
    private const int SockCloexec = 0x80000;
    private const int SolSocket = 1;
    private const int ScmRights = 1;

    /// <summary>The descriptors of a connected pair of Unix sockets of <paramref name="type"/>, closed on exec.</summary>
    public static (int First, int Second) Pair(SocketType type)
    {
        var fds = new int[2];
        if (SocketPair(AfUnix, (int)type | SockCloexec, 0, fds) != 0)
        {
            throw new InvalidOperationException($"socketpair failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        return (fds[0], fds[1]);
    }

    /// <summary>A socket that owns <paramref name="descriptor"/>.</summary>
    public static Socket Own(int descriptor) => new(new SafeSocketHandle(descriptor, ownsHandle: true));

    /// <summary>send() that never waits: the bytes sent, or -1 with the error in <paramref name="error"/> (EAGAIN: full).</summary>
    public static int SendNoWait(Socket socket, ReadOnlySpan<byte> data, out int error)
    {
        while (true)
        {
            var sent = Send(socket.SafeHandle, ref MemoryMarshal.GetReference(data), data.Length, MsgDontWait | MsgNoSignal);
            error = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (error != EIntr)
            {
                return (int)sent;
            }
        }
    }

    /// <summary>recv() that never waits: the bytes read (0 at the end), or -1 when nothing is there (or an error).</summary>
    public static int ReceiveNoWait(Socket socket, Span<byte> buffer)
    {
        while (true)
        {
            var read = Receive(socket.SafeHandle, ref MemoryMarshal.GetReference(buffer), buffer.Length, MsgDontWait);
            if (read >= 0 || Marshal.GetLastPInvokeError() != EIntr)
            {
                return (int)read;
            }
        }
    }

    /// <summary>Sends <paramref name="data"/> with a copy of <paramref name="descriptor"/> for the process at the other end.</summary>
    public static unsafe void SendWithDescriptor(Socket socket, ReadOnlySpan<byte> data, SafeHandle descriptor)
    {
        var added = false;
        descriptor.DangerousAddRef(ref added);
        try
        {
            // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } and one int: CMSG_SPACE(4) = 24 bytes.
            var control = stackalloc byte[24];
            new Span<byte>(control, 24).Clear();
            *(nuint*)control = (nuint)(sizeof(nuint) + 8 + sizeof(int));
            *(int*)(control + sizeof(nuint)) = SolSocket;
            *(int*)(control + sizeof(nuint) + 4) = ScmRights;
            *(int*)(control + sizeof(nuint) + 8) = (int)descriptor.DangerousGetHandle();
            fixed (byte* bytes = data)
            {
                var sent = 0;
                while (sent < data.Length)
                {
                    var vector = new IoVector { Base = bytes + sent, Length = (nuint)(data.Length - sent) };
                    var message = new MessageHeader { Vectors = &vector, VectorCount = 1 };
                    if (sent == 0)
                    {
                        // The descriptor goes with the first byte only.
                        message.Control = control;
                        message.ControlLength = 24;
                    }

                    var result = SendMessage(socket.SafeHandle, &message, MsgNoSignal);
                    if (result < 0)
                    {
                        var error = Marshal.GetLastPInvokeError();
                        if (error == EIntr)
                        {
                            continue;
                        }

                        throw new SocketException(error);
                    }

                    sent += (int)result;
                }
            }
        }
        finally
        {
            if (added)
            {
                descriptor.DangerousRelease();
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [DllImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SocketPair(int domain, int type, int protocol, [Out] int[] descriptors);

    [DllImport("libc", EntryPoint = "send", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint Send(SafeHandle socket, ref byte buffer, nint length, int flags);

    [DllImport("libc", EntryPoint = "recv", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint Receive(SafeHandle socket, ref byte buffer, nint length, int flags);

    [DllImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern unsafe nint SendMessage(SafeHandle socket, MessageHeader* message, int flags);
}
