namespace KmeshCompiler.Tests.Kernel;

/// <summary>A fresh cgroup v2 directory under the cgroup2 mount (found in /proc/mounts). Processes
/// started through <see cref="StartInside"/> run in it; Dispose removes it.</summary>
public sealed class TestCgroup : IDisposable
{
    public string Path { get; }

    public TestCgroup()
    {
        string root = Cgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount in /proc/mounts");
        Path = System.IO.Path.Combine(root, $"kmesh-test-{Environment.ProcessId}-{Random.Shared.Next(1000000)}");
        Directory.CreateDirectory(Path);
    }

    public static string? Cgroup2Mount()
    {
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var f = line.Split(' ');
            if (f.Length > 2 && f[2] == "cgroup2") return f[1];
        }
        return null;
    }

    /// <summary>Runs a bash script inside the cgroup (the shell moves itself in before running it)
    /// and returns its stdout.</summary>
    public string RunInside(string script, TimeSpan timeout, string? netns = null)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        // Join the cgroup first: `ip netns exec` remounts /sys, hiding the cgroup tree.
        string run = netns is null ? script : $"exec ip netns exec {netns} bash -c '{script.Replace("'", "'\\''")}'";
        psi.ArgumentList.Add($"echo $$ > '{Path}/cgroup.procs' && {run}");
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"script in cgroup timed out: {script}");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"script in cgroup failed ({p.ExitCode}): {stderr.Result.Trim()}");
        return stdout.Result;
    }

    public void Dispose()
    {
        for (int i = 0; i < 50; i++)
        {
            try { Directory.Delete(Path); return; }
            catch (IOException) { Thread.Sleep(20); } // processes still exiting
        }
    }
}
