using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The struct layouts the compiled programs actually use, read from their BTF with libbpf,
/// against the C# mirror in KmeshCompiler.Abi/Layout.cs: any size, member name or offset that differs fails.</summary>
public sealed class BtfLayoutTests
{
    public static readonly (string Object, string CName, Type Mirror)[] Structs =
    [
        (BpfObjectFiles.Xdp, "kmesh_ip_key", typeof(KmeshIpKey)),
        (BpfObjectFiles.Xdp, "kmesh_port_key", typeof(KmeshPortKey)),
        (BpfObjectFiles.Xdp, "kmesh_workload", typeof(KmeshWorkload)),
        (BpfObjectFiles.Xdp, "kmesh_eval", typeof(KmeshEval)),
        (BpfObjectFiles.Xdp, "kmesh_range", typeof(KmeshRange)),
        (BpfObjectFiles.Xdp, "kmesh_policy", typeof(KmeshPolicy)),
        (BpfObjectFiles.Xdp, "kmesh_match", typeof(KmeshMatch)),
        (BpfObjectFiles.Xdp, "kmesh_addr_set_key", typeof(KmeshAddrSetKey)),
        (BpfObjectFiles.Xdp, "kmesh_policy_stats", typeof(KmeshPolicyStats)),
        (BpfObjectFiles.Xdp, "kmesh_meta", typeof(KmeshMeta)),
        (BpfObjectFiles.Xdp, "kmesh_table_state", typeof(KmeshTableState)),
        (BpfObjectFiles.Xdp, "kmesh_stat_name", typeof(KmeshStatName)),
        (BpfObjectFiles.Xdp, "kmesh_loader_state", typeof(KmeshLoaderState)),
        (BpfObjectFiles.Xdp, "kmesh_decision_key", typeof(KmeshDecisionKey)),
        (BpfObjectFiles.Xdp, "kmesh_decision", typeof(KmeshDecision)),
        (BpfObjectFiles.Connect, "kmesh_svc_key", typeof(KmeshSvcKey)),
        (BpfObjectFiles.Connect, "kmesh_service", typeof(KmeshService)),
        (BpfObjectFiles.Connect, "kmesh_endpoint_key", typeof(KmeshEndpointKey)),
        (BpfObjectFiles.Connect, "kmesh_backend", typeof(KmeshBackend)),
    ];

    private static string Snake(string pascal)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0 && !char.IsDigit(pascal[i - 1])) sb.Append('_');
            sb.Append(char.ToLowerInvariant(pascal[i]));
        }
        return sb.ToString();
    }

    private static int SizeOf(Type t) => (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;

    [KernelFact]
    public void Every_table_struct_in_the_programs_matches_its_csharp_mirror()
    {
        var failures = new List<string>();
        foreach (var group in Structs.GroupBy(s => s.Object))
        {
            using var btf = BtfFile.Open(BpfObjectFiles.Require(group.Key));
            var structs = btf.Structs();
            foreach (var (_, cName, mirror) in group)
            {
                if (!structs.TryGetValue(cName, out var s)) { failures.Add($"{group.Key}.o: no struct {cName} in BTF"); continue; }
                if (s.Size != SizeOf(mirror)) failures.Add($"{cName}: size {s.Size} in BTF, {SizeOf(mirror)} in {mirror.Name}");
                var fields = mirror.GetFields(BindingFlags.Public | BindingFlags.Instance | BindingFlags.NonPublic)
                    .Where(f => !f.Name.Contains('<')).ToArray();
                var cs = fields.Select(f => (Name: Snake(f.Name), Offset: (int)Marshal.OffsetOf(mirror, f.Name))).OrderBy(f => f.Offset).ToList();
                var c = s.Members.Where(m => m.Name.Length > 0).Select(m => (m.Name, m.Offset)).ToList();
                if (!cs.SequenceEqual(c))
                    failures.Add($"{cName}: BTF members [{string.Join(", ", c.Select(m => $"{m.Name}@{m.Offset}"))}] vs {mirror.Name} [{string.Join(", ", cs.Select(m => $"{m.Name}@{m.Offset}"))}]");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [KernelFact]
    public void The_scratch_offsets_the_loader_reads_match_the_program()
    {
        using var btf = BtfFile.Open(BpfObjectFiles.Require(BpfObjectFiles.Xdp));
        var s = btf.Structs()["kmesh_scratch"];
        var at = s.Members.ToDictionary(m => m.Name, m => m.Offset);
        Assert.Equal(KmeshScratch.DstOffset, at["dst"]);
        Assert.Equal(KmeshScratch.VerdictOffset, at["verdict"]);
        Assert.Equal(KmeshScratch.PolicyIdOffset, at["policy_id"]);
        Assert.Equal(KmeshScratch.GenOffset, at["gen"]);
        Assert.Equal(KmeshScratch.Size, s.Size);
        Assert.True(s.Size <= 32768, $"kmesh_scratch is {s.Size} bytes: a per-CPU value is at most 32 KiB");
    }

    [KernelFact]
    public void A_mismatched_mirror_is_reported()
    {
        // The check can fail: a struct with a field too many is caught.
        using var btf = BtfFile.Open(BpfObjectFiles.Require(BpfObjectFiles.Xdp));
        var range = btf.Structs()["kmesh_range"];
        Assert.NotEqual(range.Size, SizeOf(typeof(KmeshEval)));
        Assert.Equal(["first", "count"], range.Members.Select(m => m.Name));
    }
}
