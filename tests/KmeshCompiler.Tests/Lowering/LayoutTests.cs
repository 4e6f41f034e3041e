using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>The C# mirror must agree with bpf/kmesh_tables.h: hash, constants, sizes, offsets.</summary>
public class LayoutTests
{
    private static readonly string HeaderPath = Repo.Path("bpf", "kmesh_tables.h");

    private static string Pascal(string macro) =>
        string.Concat(macro.ToLowerInvariant().Split('_').Select(w => w.Length == 0 ? "" : char.ToUpperInvariant(w[0]) + w[1..]));

    [Fact]
    public void AbiHashIsTheHashOfTheHeader()
    {
        var text = File.ReadAllBytes(HeaderPath).Where(b => b != (byte)'\r').ToArray();
        string actual = Convert.ToHexStringLower(SHA256.HashData(text));
        Assert.True(actual == Layout.AbiHash, $"bpf/kmesh_tables.h changed: update Layout.AbiHash to \"{actual}\" after updating the mirror");
    }

    [Fact]
    public void EveryNumericAndNameConstantAgreesWithTheHeader()
    {
        var fields = typeof(Layout).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToDictionary(f => f.Name);
        int compared = 0;
        foreach (Match m in Regex.Matches(File.ReadAllText(HeaderPath), @"^#define KMESH_([A-Z0-9_]+)\s+(0x[0-9a-fA-F]+|\d+|""[^""]*"")u?\b?", RegexOptions.Multiline))
        {
            string name = Pascal(m.Groups[1].Value);
            string raw = m.Groups[2].Value;
            if (!fields.TryGetValue(name, out var f)) continue;
            object? v = f.GetValue(null);
            if (raw.StartsWith('"')) Assert.Equal(raw.Trim('"'), v);
            else
            {
                ulong expected = raw.StartsWith("0x") ? ulong.Parse(raw[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) : ulong.Parse(raw, CultureInfo.InvariantCulture);
                Assert.True(Convert.ToUInt64(v, CultureInfo.InvariantCulture) == expected, $"Layout.{name} = {v}, header says {raw}");
            }
            compared++;
        }
        // Every constant of the mirror exists in the header (a rename on one side only fails here).
        var defined = Regex.Matches(File.ReadAllText(HeaderPath), @"^#define KMESH_([A-Z0-9_]+)", RegexOptions.Multiline).Select(m => Pascal(m.Groups[1].Value)).ToHashSet();
        foreach (var f in fields.Keys.Where(k => k != nameof(Layout.AbiHash)))
            Assert.True(defined.Contains(f), $"Layout.{f} has no KMESH_ macro in the header");
        Assert.True(compared >= 40, $"only {compared} constants compared");
    }

    public static readonly TheoryData<string, Type> Structs = new()
    {
        { "kmesh_ip_key", typeof(KmeshIpKey) }, { "kmesh_port_key", typeof(KmeshPortKey) },
        { "kmesh_workload", typeof(KmeshWorkload) }, { "kmesh_eval", typeof(KmeshEval) },
        { "kmesh_range", typeof(KmeshRange) }, { "kmesh_policy", typeof(KmeshPolicy) },
        { "kmesh_match", typeof(KmeshMatch) }, { "kmesh_addr_set_key", typeof(KmeshAddrSetKey) },
        { "kmesh_policy_stats", typeof(KmeshPolicyStats) }, { "kmesh_svc_key", typeof(KmeshSvcKey) },
        { "kmesh_service", typeof(KmeshService) }, { "kmesh_endpoint_key", typeof(KmeshEndpointKey) },
        { "kmesh_backend", typeof(KmeshBackend) }, { "kmesh_meta", typeof(KmeshMeta) },
        { "kmesh_decision_key", typeof(KmeshDecisionKey) }, { "kmesh_decision", typeof(KmeshDecision) },
        { "kmesh_table_state", typeof(KmeshTableState) }, { "kmesh_stat_name", typeof(KmeshStatName) },
        { "kmesh_loader_state", typeof(KmeshLoaderState) },
    };

    private static readonly Lazy<Dictionary<string, (int Size, List<(string Name, int Offset)> Members)>> Btf = new(ReadBtf);

    /// <summary>Compiles the header for the BPF target with debug info and reads the struct layouts
    /// back from the object's BTF: the layouts the programs really see.</summary>
    private static Dictionary<string, (int, List<(string, int)>)> ReadBtf()
    {
        string dir = Directory.CreateTempSubdirectory("kmesh-btf").FullName;
        try
        {
            var src = new StringBuilder($"#include \"{HeaderPath}\"\n");
            int i = 0;
            foreach (var row in Structs) src.Append(CultureInfo.InvariantCulture, $"struct {row[0]} v{i++};\n");
            src.Append("struct kmesh_scratch vs;\n");
            File.WriteAllText(Path.Combine(dir, "t.c"), src.ToString());
            Run("clang", $"-g -O2 -target bpf -I/usr/include/{RuntimeInformation.OSArchitecture switch { Architecture.Arm64 => "aarch64", _ => "x86_64" }}-linux-gnu -c t.c -o t.o", dir);
            string raw = Run("bpftool", "btf dump file t.o format raw", dir);
            var result = new Dictionary<string, (int, List<(string, int)>)>();
            List<(string, int)>? current = null;
            foreach (var line in raw.Split('\n'))
            {
                var s = Regex.Match(line, @"^\[\d+\] STRUCT '(\w+)' size=(\d+)");
                if (s.Success) { current = []; result[s.Groups[1].Value] = (int.Parse(s.Groups[2].Value, CultureInfo.InvariantCulture), current); continue; }
                if (line.StartsWith('[')) { current = null; continue; }
                var m = Regex.Match(line, @"^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)");
                if (m.Success && current is not null) current.Add((m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) / 8));
            }
            return result;
        }
        finally { Directory.Delete(dir, true); }
    }

    private static string Run(string file, string args, string cwd)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {args} failed: {stderr}");
        return stdout;
    }

    [Theory]
    [MemberData(nameof(Structs))]
    public void StructLayoutMatchesTheCompiledBtf(string cName, Type csType)
    {
        Assert.True(Btf.Value.TryGetValue(cName, out var btf), $"struct {cName} not in BTF");
        Assert.Equal(btf.Size, Marshal.SizeOf(csType));
        var csFields = csType.GetFields(BindingFlags.Public | BindingFlags.Instance);
        Assert.Equal(btf.Members.Select(m => Pascal(m.Name)), csFields.Select(f => f.Name));
        foreach (var (name, offset) in btf.Members)
            Assert.True(offset == (int)Marshal.OffsetOf(csType, Pascal(name)), $"{cName}.{name}: BTF offset {offset}, C# {Marshal.OffsetOf(csType, Pascal(name))}");
    }

    [Fact]
    public void EveryMirroredStructIsTheSizeItDeclaresAndAMultipleOfEight()
    {
        // StructLayout.Size is only a minimum: fields beyond it would silently grow the struct.
        var structs = typeof(KmeshEval).Assembly.GetTypes()
            .Where(t => t.IsValueType && t.StructLayoutAttribute is { Size: > 0 } && t.Name.StartsWith("Kmesh", StringComparison.Ordinal));
        foreach (var t in structs)
        {
            int declared = t.StructLayoutAttribute!.Size;
            int actual = (int)typeof(System.Runtime.CompilerServices.Unsafe).GetMethod("SizeOf")!.MakeGenericMethod(t).Invoke(null, null)!;
            Assert.True(declared == actual, $"{t.Name}: declared {declared} bytes, laid out in {actual}");
            if (t != typeof(KmeshIpKey) && t != typeof(KmeshEndpointKey)) Assert.True(actual % 8 == 0, $"{t.Name}: {actual} bytes is not a multiple of 8");
        }
    }

    [Fact]
    public void ScratchFitsAPerCpuValue()
    {
        // Per-CPU map values are limited to 32 KiB (PCPU_MIN_UNIT_SIZE).
        Assert.True(Btf.Value["kmesh_scratch"].Size <= 32768);
    }

    [Fact]
    public void ImageMapsUseTheMirroredSizes()
    {
        Assert.Equal(Btf.Value["kmesh_match"].Size, Layout.Map(Layout.MapMatches).ValueSize);
        Assert.Equal(Btf.Value["kmesh_addr_set_key"].Size, Layout.Map(Layout.MapAddrSets).KeySize);
        Assert.All(Layout.ImageMaps.Concat(Layout.NodeMaps), m => Assert.True(m.Name.Length <= 15, m.Name));
        var all = Layout.ImageMaps.Concat(Layout.NodeMaps).Select(m => m.Name).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(Btf.Value["kmesh_scratch"].Size, Layout.Map(Layout.MapScratch).ValueSize);
        // Every image table's state fits the generation record.
        Assert.True(Layout.ImageMaps.Length <= Layout.ImageTables);
    }
}
