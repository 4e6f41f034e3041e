using System.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>A loader that dies at any point leaves the old image or the new one in force, never a
/// part of either, and the next load converges with no manual step (dataplane.md, "Crash-safe").
/// The loader process is stopped by SIGKILL right after its N-th kernel write (the fault point
/// KMESH_LOADER_FAULT_AFTER, read by the loader only) for every N of a load, and by kill -9 at random
/// moments.</summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    private sealed record Images(string PathA, string PathB, string PathC, string HashA, string HashB);

    private static Images Make()
    {
        string dir = Directory.CreateTempSubdirectory("kmesh-crash").FullName;
        var hashes = new List<string>();
        foreach (var node in new[] { "node-a", "node-b", "node-c" })
        {
            var bytes = LoaderImages.Bookinfo(node).ToBytes();
            File.WriteAllBytes(Path.Combine(dir, node + ".img"), bytes);
            hashes.Add(ImageFile.ContentHashOf(bytes));
        }
        return new Images(Path.Combine(dir, "node-a.img"), Path.Combine(dir, "node-b.img"), Path.Combine(dir, "node-c.img"), hashes[0], hashes[1]);
    }

    /// <summary>The content hash of the image in force (read back and checked against its record),
    /// or null when nothing is loaded.</summary>
    private static string? InForce(string dir)
    {
        if (!Directory.Exists(dir)) return null;
        using var loader = NodeLoader.Open(dir, TimeSpan.FromSeconds(30), create: false);
        var live = loader.Dump();
        return live is null ? null : ImageFile.ContentHashOf(live.Image.ToBytes());
    }

    private static void LoadInProcess(string dir, string image)
    {
        using var loader = NodeLoader.Open(dir, TimeSpan.FromSeconds(30), create: true);
        var bag = new Diagnostics.DiagnosticBag();
        loader.Load(ImageReader.Read(image, File.ReadAllBytes(image), bag)!);
    }

    private static Dictionary<string, string> Fault(int n) => new() { [FaultPoint.Variable] = n.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    [KernelFact]
    public void A_load_stopped_after_any_kernel_write_leaves_the_old_or_the_new_image_and_the_next_load_converges()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        var img = Make();
        int killed = 0, sawOld = 0, sawNew = 0;
        for (int n = 1; ; n++)
        {
            // A in force, C in the other slot: loading B rewrites most tables of that slot.
            LoadInProcess(dir, img.PathC);
            LoadInProcess(dir, img.PathA);
            var r = KmeshcProcess.Run(Fault(n), "load", img.PathB, "--pin-dir", dir);
            if (r.Exit == 0) break; // the load has fewer than n writes: every point was tried
            Assert.True(r.Exit == 137, $"fault {n}: exit {r.Exit}: {r.Err}");
            killed++;
            string? now = InForce(dir);
            Assert.True(now == img.HashA || now == img.HashB, $"fault after write {n}: the maps hold {now ?? "nothing"}");
            if (now == img.HashA) sawOld++; else sawNew++;
            var next = KmeshcProcess.Run(null, "load", img.PathB, "--pin-dir", dir);
            Assert.True(next.Exit == 0, $"fault {n}, next load: {next.Err}");
            Assert.Equal(img.HashB, InForce(dir));
        }
        output.WriteLine($"{killed} fault points: {sawOld} left the old image, {sawNew} the new one");
        Assert.True(killed >= 10 && sawOld > 0 && sawNew > 0, $"{killed} fault points, {sawOld} old, {sawNew} new");
    }

    [KernelFact]
    public void A_first_load_stopped_after_any_kernel_write_leaves_nothing_or_the_image_and_the_next_load_converges()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        var img = Make();
        int killed = 0;
        for (int n = 1; ; n += 11)
        {
            var r = KmeshcProcess.Run(Fault(n), "load", img.PathA, "--pin-dir", dir);
            if (r.Exit == 0) break;
            Assert.True(r.Exit == 137, $"fault {n}: exit {r.Exit}: {r.Err}");
            killed++;
            string? now = InForce(dir);
            Assert.True(now is null || now == img.HashA, $"fault after write {n}: the maps hold {now}");
            var next = KmeshcProcess.Run(null, "load", img.PathA, "--pin-dir", dir);
            Assert.True(next.Exit == 0, $"fault {n}, next load: {next.Err}");
            Assert.Equal(img.HashA, InForce(dir));
            Assert.Equal(0, KmeshcProcess.Run(null, "unload", "--pin-dir", dir).Exit);
            Assert.DoesNotContain(Directory.GetFileSystemEntries(fs.Path), e => !Path.GetFileName(e).EndsWith(".debug", StringComparison.Ordinal));
        }
        output.WriteLine($"{killed} fault points during the first load");
        Assert.True(killed >= 5, $"{killed} fault points");
    }

    [KernelFact]
    public void Kill_minus_nine_at_random_moments_of_a_hundred_loads_never_leaves_a_partial_image()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        var img = Make();
        LoadInProcess(dir, img.PathA);
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, KmeshcProcess.Run(null, "load", img.PathC, "--pin-dir", dir).Exit);
        int full = (int)clock.ElapsedMilliseconds;
        var hashes = new[] { img.HashA, img.HashB, ImageFile.ContentHashOf(File.ReadAllBytes(img.PathC)) };
        var rng = new Random(10);
        int killedMidway = 0;
        for (int i = 0; i < 100; i++)
        {
            string path = (i % 3) switch { 0 => img.PathB, 1 => img.PathA, _ => img.PathC };
            using var p = KmeshcProcess.Start(null, "load", path, "--pin-dir", dir);
            Thread.Sleep(rng.Next(0, full * 3 / 2));
            if (!p.HasExited) { p.Kill(); killedMidway++; }
            p.WaitForExit();
            string? now = InForce(dir);
            Assert.True(now is not null && hashes.Contains(now), $"load {i}: the maps hold {now ?? "nothing"}");
        }
        output.WriteLine($"{killedMidway} of 100 loads killed before they finished (a load takes {full} ms)");
        Assert.True(killedMidway is >= 20 and <= 90, $"{killedMidway} of 100 loads were killed while running");
        Assert.Equal(0, KmeshcProcess.Run(null, "load", img.PathB, "--pin-dir", dir).Exit);
        Assert.Equal(img.HashB, InForce(dir));
    }
}
