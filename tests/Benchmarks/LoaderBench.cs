using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Benchmarks;

/// <summary><c>loader [--runs N] [--sizes 10000,100000,1000000] [--world PATH|none]</c>: publishing
/// images through the loader into a private bpffs, in this process (what a long-lived node agent
/// pays; `kmeshc load` adds its start-up).
///
/// Synthetic images of N map entries (40 % km_lists rows, 20 % km_decisions, 20 % km_endpoints,
/// 10 % km_addr_sets, 10 % km_backends), generated from the index: the first load (pins created)
/// of X, then Y into the empty other slot, X again (that slot already holds it), Z (every row
/// differs from the Y that slot holds) and X with one row changed (that slot holds X). Then the world of the lowering benchmark (100,000 pods, 20,000
/// policies; its snapshot is read from the lowering benchmark's cache, or generated) compiled for
/// its median node, and the same image with one policy changed (a port added to a rule of a
/// policy that applies to a local pod): the swap live time and total, in steady state (the slot
/// written lags two loads, so a load writes the rows of the last two changes).
/// "live" is from the start of the load to the switch of km_active; "total" includes the wait
/// for readers of the old generation.</summary>
public static class LoaderBench
{
    public static int Run(string[] args)
    {
        int runs = 5;
        var sizes = new List<int> { 10_000, 100_000, 1_000_000 };
        string? world = null;
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--runs") runs = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--sizes") sizes = [.. args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
            if (args[i] == "--world") world = args[i + 1];
        }
        if (BpfEnvironment.Unavailable() is { } why) { Console.Error.WriteLine($"loader bench: {why}"); return 2; }
        Console.WriteLine($"# loader bench: median of {runs} runs, {Environment.ProcessorCount} CPUs, kernel {Environment.OSVersion.Version}");
        Console.WriteLine("| entries | first load ms (pins created) | into the empty slot: live / total ms | swap back: live / total ms | every row differs: live / total ms | one row differs: live / total ms |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (int n in sizes)
        {
            var x = Synthetic(n, 0);
            var y = Synthetic(n, 1);
            var z = Synthetic(n, 2);
            var x1 = Synthetic(n, 0, oneRowChanged: true);
            var cols = new List<double>[9];
            for (int c = 0; c < cols.Length; c++) cols[c] = [];
            for (int r = 0; r < runs; r++)
            {
                using var fs = new PrivateBpfFs();
                var clock = Stopwatch.StartNew();
                using var loader = NodeLoader.Open(fs["kmesh"], TimeSpan.Zero, create: true);
                loader.Load(x.Image, x.Hash);
                cols[0].Add(clock.Elapsed.TotalMilliseconds);
                // The slot a load writes holds the image of two loads before: empty, then X, then Y, then X.
                var s1 = loader.Load(y.Image, y.Hash);
                var s2 = loader.Load(x.Image, x.Hash);
                var s3 = loader.Load(z.Image, z.Hash);
                var s4 = loader.Load(x1.Image, x1.Hash);
                int c = 1;
                foreach (var s in new[] { s1, s2, s3, s4 }) { cols[c++].Add(s.Live.TotalMilliseconds); cols[c++].Add(s.Total.TotalMilliseconds); }
                if (r == 0 && Environment.GetEnvironmentVariable("KMESH_BENCH_VERBOSE") == "1")
                    foreach (var (name, s) in new[] { ("empty", s1), ("back", s2), ("all", s3), ("one", s4) })
                        Console.WriteLine($"  {n} {name}: " + string.Join(", ", s.Tables.Where(t => t.Written).Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Table} {t.Ms:F0} ms")))
                            + "; " + string.Join(", ", s.Phases.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Phase} {p.Ms:F0} ms"))));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Entries(x.Image):N0} | {Median(cols[0]):F0} | {Median(cols[1]):F1} / {Median(cols[2]):F1} | {Median(cols[3]):F1} / {Median(cols[4]):F1} | {Median(cols[5]):F1} / {Median(cols[6]):F1} | {Median(cols[7]):F1} / {Median(cols[8]):F1} |"));
        }
        if (world != "none") WorldSwap(world, runs);
        return 0;
    }

    private static int Entries(ImageFile i) => i.Sections.Sum(s => s.Entries.Length);

    private sealed record Built(ImageFile Image, string Hash);

    private static Built Make(ImageFile image) => new(image, ImageFile.ContentHashOf(image.ToBytes()));

    private static byte[] Bytes<T>(T v) where T : unmanaged => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(ref v)).ToArray();

    /// <summary>N entries spread over five tables; <paramref name="variant"/> changes every value.</summary>
    private static Built Synthetic(int n, uint variant, bool oneRowChanged = false)
    {
        var sections = new List<ImageSection>();
        int lists = n * 4 / 10, decisions = n / 5, endpoints = n / 5, sets = n / 10, backends = n - lists - decisions - endpoints - sets;
        sections.Add(ImageSection.For(Layout.Map(Layout.MapLists), Enumerable.Range(0, lists).Select(i =>
            new ImageEntry(Bytes((uint)i), Bytes((uint)i * 7 + variant + (oneRowChanged && i == lists / 2 ? 1u : 0u))))));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapAddrSets), Enumerable.Range(0, sets).Select(i =>
        {
            var k = new KmeshAddrSetKey { Prefixlen = 64, SetFam = Layout.SetFam(1 + (uint)i / 1000, false) };
            unsafe { k.Addr[0] = 10; k.Addr[1] = (byte)(i >> 16); k.Addr[2] = (byte)(i >> 8); k.Addr[3] = (byte)i; }
            return new ImageEntry(Bytes(k), Bytes(1 + (uint)i / 1000 + variant));
        })));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapDecisions), Enumerable.Range(0, decisions).Select(i =>
        {
            var k = new KmeshDecisionKey { SrcLen = 32, Port = (uint)i % 65536 };
            unsafe { k.Dst.Addr[0] = 10; k.Dst.Addr[3] = (byte)(i >> 16); k.Src[0] = 192; k.Src[2] = (byte)(i >> 8); k.Src[3] = (byte)i; }
            return new ImageEntry(Bytes(k), Bytes(new KmeshDecision { Verdict = variant, PolicyId = (uint)i }));
        })));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapEndpoints), Enumerable.Range(0, endpoints).Select(i =>
            new ImageEntry(Bytes(new KmeshEndpointKey { ServiceId = (uint)i / 16, Index = (uint)i % 16 }), Bytes((uint)i + variant)))));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapBackends), Enumerable.Range(0, backends).Select(i =>
            new ImageEntry(Bytes((uint)i), Bytes(new KmeshBackend { Port = (uint)i % 65536 + variant })))));
        var ordered = Layout.ImageMaps.Select(m => sections.FirstOrDefault(s => s.Name == m.Name)).OfType<ImageSection>().ToImmutableArray();
        return Make(new ImageFile("bench", Layout.AbiHash, ordered, new Dictionary<(NameKind, uint), string>()));
    }

    private static void WorldSwap(string? path, int runs)
    {
        var median = new MedianNodeWorld(path);
        var w = median.World;
        string node = median.Node;
        var candidates = median.Candidates;
        World Changed(int k) => median.PolicyChanged(k);
        Built Compile(World world)
        {
            var bag = new DiagnosticBag();
            return Make(Lowerer.Lower(world, node, bag) ?? throw new InvalidOperationException(string.Join("; ", bag.Sorted().Take(3))));
        }
        var baseImage = Compile(w);
        var changed = new[] { Compile(Changed(0)), Compile(Changed(1)), Compile(Changed(2)) };
        Console.WriteLine();
        Console.WriteLine($"world: {w.Workloads.Length:N0} pods, {w.Policies.Length:N0} policies; node {node}: image of {Entries(baseImage.Image):N0} entries, {baseImage.Image.ToBytes().Length:N0} bytes");
        Console.WriteLine($"one policy changed: {string.Join(", ", candidates.Select(c => c.Policy.Namespace + "/" + c.Policy.Name))}");
        var live = new List<double>();
        var total = new List<double>();
        var first = new List<double>();
        var rows = new List<string>();
        for (int r = 0; r < runs; r++)
        {
            using var fs = new PrivateBpfFs();
            var clock = Stopwatch.StartNew();
            using var loader = NodeLoader.Open(fs["kmesh"], TimeSpan.Zero, create: true);
            loader.Load(baseImage.Image, baseImage.Hash);
            first.Add(clock.Elapsed.TotalMilliseconds);
            loader.Load(changed[0].Image, changed[0].Hash); // the other slot was empty: a full write
            // Steady state: the slot written holds the image of two loads ago.
            foreach (var next in new[] { baseImage, changed[1], changed[2] })
            {
                var rep = loader.Load(next.Image, next.Hash);
                live.Add(rep.Live.TotalMilliseconds);
                total.Add(rep.Total.TotalMilliseconds);
                if (r == 0) rows.Add(string.Join(", ", rep.Tables.Where(t => t.Written).Select(t => $"{t.Table} +{t.Added} -{t.Removed} ~{t.Changed}"))
                    + "; " + string.Join(", ", rep.Phases.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Phase} {p.Ms:F1} ms"))));
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first load (pins created): {Median(first):F0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"one-policy swap: live {Median(live):F1} ms (min {live.Min():F1}, max {live.Max():F1}), total {Median(total):F1} ms, median of {live.Count}"));
        foreach (var row in rows) Console.WriteLine("  written: " + row);
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count == 0 ? double.NaN : s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
