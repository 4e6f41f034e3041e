using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader;

/// <summary>Runs code inside a network namespace (a /var/run/netns/NAME or /proc/PID/ns/net path): on a
/// dedicated thread that enters it with setns(2). A thread's namespace decides where the sockets it
/// creates live and which interfaces netlink (XDP attach) sees; other threads are unaffected.</summary>
public static partial class NetworkNamespace
{
    private const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    public static T Run<T>(string nsPath, Func<T> f)
    {
        T result = default!;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var self = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle(nsPath);
                if (SetNs((int)target.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new BpfException($"enter network namespace {nsPath}", Marshal.GetLastPInvokeError());
                try { result = f(); }
                finally { SetNs((int)self.DangerousGetHandle(), CloneNewNet); }
            }
            catch (Exception e) { error = e; }
        });
        t.Start();
        t.Join();
        if (error is not null) throw new InvalidOperationException($"in network namespace {nsPath}: {error.Message}", error);
        return result;
    }
}
