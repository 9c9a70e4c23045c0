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

    /// <summary>Sends <paramref name="data"/> with copies of <paramref name="descriptors"/> for the process at the other end.</summary>
    public static unsafe void SendWithDescriptors(Socket socket, ReadOnlySpan<byte> data, params ReadOnlySpan<SafeHandle> descriptors)
    {
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the ints, padded to 8 bytes.
        var header = sizeof(nuint) + 8;
        var length = header + (4 * descriptors.Length);
        var space = (length + 7) & ~7;
        var control = stackalloc byte[space];
        new Span<byte>(control, space).Clear();
        *(nuint*)control = (nuint)length;
        *(int*)(control + sizeof(nuint)) = SolSocket;
        *(int*)(control + sizeof(nuint) + 4) = ScmRights;
        var added = new bool[descriptors.Length];
        try
        {
            for (var i = 0; i < descriptors.Length; i++)
            {
                descriptors[i].DangerousAddRef(ref added[i]);
                *(int*)(control + header + (4 * i)) = (int)descriptors[i].DangerousGetHandle();
            }

            fixed (byte* bytes = data)
            {
                var sent = 0;
                while (sent < data.Length)
                {
                    var vector = new IoVector { Base = bytes + sent, Length = (nuint)(data.Length - sent) };
                    var message = new MessageHeader { Vectors = &vector, VectorCount = 1 };
                    if (sent == 0)
                    {
                        // The descriptors go with the first byte only.
                        message.Control = control;
                        message.ControlLength = (nuint)space;
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
            for (var i = 0; i < descriptors.Length; i++)
            {
                if (added[i])
                {
                    descriptors[i].DangerousRelease();
                }
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
