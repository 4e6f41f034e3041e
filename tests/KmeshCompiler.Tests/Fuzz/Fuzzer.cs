using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Fuzz;

/// <summary>What a fuzz case is fed to, named after the command that runs the same code.</summary>
public enum FuzzKind { Yaml, JsonSnapshot, BinarySnapshot, Kpl, Image, RehashedImage }

/// <summary>The worst a run saw for one kind: cases, slowest case and most bytes allocated by one case.</summary>
public sealed record FuzzStats(FuzzKind Kind, string Command, int Cases, double WorstMs, long WorstAllocated, int Crashes);

/// <summary>A seeded mutation fuzzer over every input kind the tools read. Seeds are the project's
/// own inputs (examples, golden files, xDS fixtures, images compiled from generated worlds); each
/// case applies a few mutators chosen for its kind, then runs the library code of the command that
/// reads it (validate and compile, fmt, inspect). Any exception is a crash: the input is kept in
/// Fuzz/crashers/ as a regression input that <see cref="FuzzTests"/> replays forever after. Images
/// are also mutated with their content hash recomputed, so mutations get past the checksum.</summary>
public sealed class Fuzzer(FuzzKind kind, int seed)
{
    public static string CrasherDir => Repo.Path("tests", "KmeshCompiler.Tests", "Fuzz", "crashers");

    private static readonly FrontendSettings Settings = new("istio-system", "cluster.local", "Kubernetes", false);
    private readonly Random _rng = new(seed);
    private readonly List<byte[]> _seeds = Seeds(kind);

    public static string Command(FuzzKind k) => k switch
    {
        FuzzKind.Kpl => "fmt + validate + compile",
        FuzzKind.Image or FuzzKind.RehashedImage => "inspect + interpreter",
        _ => "validate + compile",
    };

    public static string Extension(FuzzKind k) => k switch
    {
        FuzzKind.Yaml => ".yaml",
        FuzzKind.JsonSnapshot => ".json",
        FuzzKind.BinarySnapshot => ".pb",
        FuzzKind.Kpl => ".kpl",
        _ => ".img",
    };

    /// <summary>Runs mutated cases for <paramref name="budget"/>; crashers are written to
    /// <paramref name="crasherDir"/> and listed in <paramref name="crashes"/>.</summary>
    public FuzzStats Run(TimeSpan budget, string crasherDir, List<string> crashes)
    {
        // A defect that kills the process (memory corruption in unsafe code) leaves its input here.
        Directory.CreateDirectory(Repo.Path(".build"));
        using var last = new FileStream(Repo.Path(".build", $"fuzz-last-case{Extension(kind)}"), FileMode.Create, FileAccess.Write, FileShare.Read, 1);
        var total = Stopwatch.StartNew();
        int cases = 0;
        double worstMs = 0;
        long worstAlloc = 0;
        while (total.Elapsed < budget)
        {
            var input = Mutate();
            cases++;
            last.Position = 0;
            last.Write(input);
            last.SetLength(input.Length);
            long a0 = GC.GetTotalAllocatedBytes();
            var sw = Stopwatch.StartNew();
            try { Execute(kind, input); }
            catch (Exception e)
            {
                Directory.CreateDirectory(crasherDir);
                string name = $"{kind.ToString().ToLowerInvariant()}-{Convert.ToHexStringLower(SHA256.HashData(input))[..12]}{Extension(kind)}";
                File.WriteAllBytes(Path.Combine(crasherDir, name), input);
                crashes.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
            worstMs = Math.Max(worstMs, sw.Elapsed.TotalMilliseconds);
            worstAlloc = Math.Max(worstAlloc, GC.GetTotalAllocatedBytes() - a0);
        }
        return new FuzzStats(kind, Command(kind), cases, worstMs, worstAlloc, crashes.Count);
    }

    /// <summary>The code the commands run on such an input. Throws only on a defect.</summary>
    public static void Execute(FuzzKind kind, byte[] input)
    {
        switch (kind)
        {
            case FuzzKind.Image or FuzzKind.RehashedImage:
            {
                var bag = new DiagnosticBag();
                if (ImageReader.Read("case.img", input, bag) is not { } image) return;
                ImageText.Render(image);
                var it = new ImageInterpreter(image);
                foreach (var (addr, _) in it.Tables.Workloads.Take(4))
                    foreach (uint port in new uint[] { 80, 9080, 0 })
                        it.Syn(addr, addr, port);
                foreach (var ((addr, port), _) in it.Tables.Services.Take(4)) it.Connect(addr, port);
                return;
            }
            case FuzzKind.Kpl:
            {
                var bag = new DiagnosticBag();
                var doc = KplFrontend.ReadDocument(new SourceText("case.kpl", input), bag);
                if (!bag.HasErrors && doc.Comments.Orphans.Count == 0) KplPrinter.Print(doc);
                Compile(new SourceText("case.kpl", input));
                return;
            }
            default:
                Compile(new SourceText("case" + Extension(kind), input));
                return;
        }
    }

    private static void Compile(SourceText src)
    {
        var bag = new DiagnosticBag();
        var world = InputLoader.Build([src], Settings, bag);
        if (bag.HasErrors || world.Nodes.IsEmpty) return;
        var image = Lowerer.Lower(world, world.Nodes[0].Name, bag);
        if (image is not null && !bag.HasErrors) ImageReader.Read("case.img", image.ToBytes(), new DiagnosticBag());
    }

    // ---- seeds ----

    private static List<byte[]> Seeds(FuzzKind kind)
    {
        var seeds = new List<byte[]>();
        switch (kind)
        {
            case FuzzKind.Yaml:
                foreach (var f in Directory.GetFiles(Repo.Path("examples"), "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                    seeds.Add(File.ReadAllBytes(f));
                seeds.Add("a: &a [x, x]\nb: &b [*a, *a]\nc: {<<: {k: v}, d: *b}\n"u8.ToArray());
                break;
            case FuzzKind.JsonSnapshot:
                foreach (var f in Directory.GetFiles(Repo.Path("tests", "KmeshCompiler.Tests", "Xds", "fixtures"), "*.json").Order(StringComparer.Ordinal))
                    seeds.Add(File.ReadAllBytes(f));
                seeds.Add(SnapshotWriter.Write(Xds.XdsWorlds.Rich(), SnapshotFormat.Json));
                break;
            case FuzzKind.BinarySnapshot:
                foreach (var f in Directory.GetFiles(Xds.Fixtures.Dir, "*.pb.hex").Order(StringComparer.Ordinal))
                    seeds.Add(Xds.Fixtures.Bytes(Path.GetFileName(f)));
                seeds.Add(SnapshotWriter.Write(Xds.XdsWorlds.Rich(), SnapshotFormat.Binary));
                break;
            case FuzzKind.Kpl:
                foreach (var f in Directory.GetFiles(Repo.Path("golden"), "*.kpl", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                    seeds.Add(File.ReadAllBytes(f));
                break;
            default:
                for (int s = 1; s <= 3; s++)
                {
                    var world = WorldGen.World(new Random(s));
                    var image = Lowerer.Lower(world, world.Nodes[0].Name, new DiagnosticBag());
                    if (image is not null) seeds.Add(image.ToBytes());
                }
                break;
        }
        return seeds;
    }

    // ---- mutators ----

    private static readonly uint[] InterestingU32 = [0, 1, 2, 7, 8, 16, 255, 256, 4096, 65535, 65536, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF];

    private static readonly string[] YamlTokens =
        ["&a ", "*a", "<<: *a\n", "- ", ": ", "{", "}", "[", "]", "'", "\"", "\\u0000", "!!binary ", "? ", "|\n", ">-\n", "\t", "---\n", "...\n",
         "%YAML 1.2\n", "# c\n", "\"\\ud800\"", "~", "null", "0x1F", "1e999", "-1", "4294967296", "::", "\xef\xbb\xbf"];

    private static readonly string[] JsonTokens =
        ["{", "}", "[", "]", ",", ":", "\"", "null", "true", "-0", "1e400", "\"\\ud800\"", "\"\\udfff\\ud800\"", "\"@type\"", "\"resources\"",
         "\"typeUrl\"", "\"resource\": {}", "\"removedResources\": [1]", "18446744073709551616", "\"\\u0000\""];

    private static readonly string[] KplTokens =
        ["namespace ", "workload ", "policy ", "allow", "deny", " {", "}", "\"", "#", "0.0.0.0/0", "::/0", "65536", "-1", "*", "\n", "  ", "port ", "from ", "to ", "world "];

    public byte[] Mutate()
    {
        var b = _seeds[_rng.Next(_seeds.Count)].ToList();
        int n = 1 + _rng.Next(kind is FuzzKind.Image or FuzzKind.RehashedImage ? 3 : 4);
        for (int i = 0; i < n; i++) MutateOnce(b);
        var result = b.ToArray();
        if (kind == FuzzKind.RehashedImage && result.Length >= ImageFile.HeaderSize)
            Convert.FromHexString(ImageFile.ContentHashOfBody(result.AsSpan(ImageFile.HeaderSize))).CopyTo(result, 48);
        return result;
    }

    private void MutateOnce(List<byte> b)
    {
        int op = _rng.Next(10);
        int At() => b.Count == 0 ? 0 : _rng.Next(b.Count);
        switch (kind, op)
        {
            case (FuzzKind.Image or FuzzKind.RehashedImage or FuzzKind.BinarySnapshot, < 5):
            {
                // A 32-bit word (a count, an index, a length) set to a boundary value, near its own value.
                int at = b.Count < 4 ? 0 : _rng.Next(b.Count - 3) & ~(kind == FuzzKind.BinarySnapshot ? 0 : 3);
                if (b.Count < 4) break;
                uint old = BitConverter.ToUInt32([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                uint v = _rng.Next(3) switch { 0 => InterestingU32[_rng.Next(InterestingU32.Length)], 1 => old + (uint)_rng.Next(-4, 5), _ => old ^ (1u << _rng.Next(32)) };
                var bytes = BitConverter.GetBytes(v);
                for (int i = 0; i < 4; i++) b[at + i] = bytes[i];
                break;
            }
            case (FuzzKind.BinarySnapshot, 5):
            {
                // An overlong or huge varint.
                int at = At();
                b.InsertRange(at, _rng.Next(2) == 0 ? new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F } : Enumerable.Repeat((byte)0x80, 11).ToArray());
                break;
            }
            case (FuzzKind.Yaml or FuzzKind.JsonSnapshot or FuzzKind.Kpl, < 4):
            {
                var tokens = kind == FuzzKind.Yaml ? YamlTokens : kind == FuzzKind.Kpl ? KplTokens : JsonTokens;
                b.InsertRange(At(), Encoding.UTF8.GetBytes(tokens[_rng.Next(tokens.Length)]));
                break;
            }
            case (FuzzKind.Yaml or FuzzKind.Kpl, 4):
            {
                // Duplicate, drop or move a line.
                var lines = Encoding.UTF8.GetString(b.ToArray()).Split('\n').ToList();
                if (lines.Count < 2) break;
                int i = _rng.Next(lines.Count), j = _rng.Next(lines.Count);
                switch (_rng.Next(3))
                {
                    case 0: lines.Insert(j, lines[i]); break;
                    case 1: lines.RemoveAt(i); break;
                    default: (lines[i], lines[j]) = (lines[j], lines[i]); break;
                }
                b.Clear();
                b.AddRange(Encoding.UTF8.GetBytes(string.Join('\n', lines)));
                break;
            }
            case (FuzzKind.JsonSnapshot, 4):
            {
                // Invalid UTF-8 inside a string.
                int q = b.IndexOf((byte)'"', At());
                if (q >= 0) b.InsertRange(q + 1, _rng.Next(2) == 0 ? new byte[] { 0xFF } : new byte[] { 0xC3 });
                break;
            }
            case (_, 5 or 6):
                if (b.Count > 0) b[At()] ^= (byte)(1 << _rng.Next(8));
                break;
            case (_, 7):
            {
                int at = At(), len = Math.Min(b.Count - at, 1 + _rng.Next(16));
                if (len > 0) b.RemoveRange(at, len);
                break;
            }
            case (_, 8):
            {
                int at = At(), len = Math.Min(b.Count - at, 1 + _rng.Next(64));
                if (len > 0) b.InsertRange(At(), b.GetRange(at, len));
                break;
            }
            default:
                switch (_rng.Next(3))
                {
                    case 0:
                    {
                        // Truncated.
                        int keep = _rng.Next(b.Count + 1);
                        b.RemoveRange(keep, b.Count - keep);
                        break;
                    }
                    case 1:
                    {
                        // A piece of another seed spliced in.
                        var other = _seeds[_rng.Next(_seeds.Count)];
                        int at = _rng.Next(other.Length + 1), len = Math.Min(other.Length - at, 1 + _rng.Next(256));
                        b.InsertRange(At(), other.AsSpan(at, len).ToArray());
                        break;
                    }
                    default:
                        if (b.Count > 0) b[At()] = (byte)_rng.Next(256);
                        break;
                }
                break;
        }
    }
}
