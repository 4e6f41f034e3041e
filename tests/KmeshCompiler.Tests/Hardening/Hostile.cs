using System.Diagnostics;
using System.Security.Cryptography;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Hardening;

/// <summary>A test that needs root (mounting a small or read-only tmpfs, making FIFOs anywhere).</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "needs root (mounts a tmpfs)";
    }
}

/// <summary>Helpers for running the CLI in environments that try to break it.</summary>
public static class Hostile
{
    /// <summary>Runs the CLI in-process; a run that does not end within <paramref name="seconds"/> fails
    /// the test (a FIFO read would hang forever).</summary>
    public static CliResult Run(double seconds, params string[] args)
    {
        var t = Task.Run(() => CliRunner.Run(args));
        Assert.True(t.Wait(TimeSpan.FromSeconds(seconds)), $"kmeshc {string.Join(' ', args)} did not end within {seconds} s");
        var r = t.Result;
        Assert.DoesNotContain("internal error", r.Err);
        return r;
    }

    /// <summary>Every entry under a folder with its kind and content hash: compare two to prove that
    /// nothing but the intended output changed (and no temporary was left behind).</summary>
    public static SortedDictionary<string, string> Tree(string dir)
    {
        var r = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var st = KmeshCompiler.IO.FileStat.Of(e, followLinks: false);
            r[Path.GetRelativePath(dir, e)] = st.IsRegular ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(e))) : st.Kind.ToString();
        }
        return r;
    }

    public static void MkFifo(string path) => Sh($"mkfifo '{path}'");

    public static int Sh(string command)
    {
        var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>A tmpfs of <paramref name="size"/> mounted on a new folder; unmounted and removed on dispose.</summary>
    public sealed class Tmpfs : IDisposable
    {
        public string Dir { get; } = Directory.CreateTempSubdirectory("kmesh-tmpfs-").FullName;

        public Tmpfs(string size)
        {
            Assert.Equal(0, Sh($"mount -t tmpfs -o size={size} kmesh-test '{Dir}'"));
        }

        public void ReadOnly() => Assert.Equal(0, Sh($"mount -o remount,ro '{Dir}'"));

        public void Dispose()
        {
            Sh($"umount '{Dir}'");
            Directory.Delete(Dir, recursive: true);
        }
    }
}
