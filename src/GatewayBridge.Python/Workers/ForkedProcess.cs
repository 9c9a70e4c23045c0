using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace GatewayBridge.Python;

/// <summary>
/// A process that is not the host's child (a worker its template forked), held by a pidfd: signals reach that process
/// or none, never another one that took its pid after its template reaped it. Without pidfds (Linux before 5.3) the
/// pid itself is used, as before.
/// </summary>
internal sealed class ForkedProcess : IDisposable
{
    private const long PidfdOpen = 434;
    private const long PidfdSendSignal = 424;
    private const int NotImplemented = 38;

    private readonly SafeFileHandle? _pidfd;

    private ForkedProcess(int pid, SafeFileHandle? pidfd)
    {
        Pid = pid;
        _pidfd = pidfd;
    }

    public int Pid { get; }

    /// <summary>Whether signals go through a pidfd (Linux 5.3 and later), not by pid.</summary>
    public bool HoldsPidfd => _pidfd is not null;

    /// <summary>
    /// Holds <paramref name="pid"/> if it is <paramref name="parent"/>'s child now; null if it is gone (or is somebody
    /// else's: its pid taken again).
    /// </summary>
    public static ForkedProcess? Open(int pid, int parent)
    {
        var fd = Syscall(PidfdOpen, pid, 0, IntPtr.Zero, 0);
        var pidfd = fd >= 0 ? new SafeFileHandle((IntPtr)fd, ownsHandle: true) : null;
        if (fd < 0 && Marshal.GetLastPInvokeError() != NotImplemented)
        {
            return null;
        }

        // Checked once the pidfd holds it: from then on the pid cannot name another process.
        if (Stat(pid)?.Parent != parent)
        {
            pidfd?.Dispose();
            return null;
        }

        return new ForkedProcess(pid, pidfd);
    }

    /// <summary>Sends <paramref name="signal"/>; false if the process has ended.</summary>
    public bool Signal(int signal)
    {
        if (_pidfd is null)
        {
            return Kill(Pid, signal) == 0;
        }

        var added = false;
        try
        {
            _pidfd.DangerousAddRef(ref added);
            return Syscall(PidfdSendSignal, (int)_pidfd.DangerousGetHandle(), signal, IntPtr.Zero, 0) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                _pidfd.DangerousRelease();
            }
        }
    }

    public void Dispose() => _pidfd?.Dispose();

    /// <summary>A process's state letter (Z: ended, not yet reaped) and parent, from /proc; null once it is gone.</summary>
    public static (char State, int Parent)? Stat(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (name) state ppid ...", the name in parentheses may hold spaces.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ', 3);
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Syscall(long number, int first, int second, IntPtr third, uint fourth);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
