using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.DataPlane;

/// <summary>The XDP authorization programs of bpf/kmesh_xdp.c, loaded privately (not pinned): the
/// entry program, the four stage programs installed in km_progs, and the maps they read. Used by
/// `kmeshc check --engine kernel`, the kernel tests and the benchmarks.</summary>
public sealed class AuthorizationProgram : IDisposable
{
    public const string Entry = "kmesh_xdp";
    public static readonly string[] Stages = ["kmesh_stage_match", "kmesh_stage_clause", "kmesh_stage_rule", "kmesh_stage_policy"];

    /// <summary>Verdict counter slots (KMESH_VERDICT_*).</summary>
    public enum VerdictSlot : uint { AllowPolicy = 0, AllowNoAllow = 1, DenyPolicy = 2, DenyNoneAllow = 3, Error = 4, Unparsed = 5 }

    /// <summary>Offsets in struct kmesh_scratch (checked against the object's BTF by a test).</summary>
    public const int ScratchDstOffset = 16, ScratchVerdictOffset = 48, ScratchPolicyIdOffset = 52;

    public BpfObject Object { get; }
    public BpfProgram Program => Object.Program(Entry);

    private AuthorizationProgram(BpfObject obj) => Object = obj;

    public static AuthorizationProgram Load(string? objectPath = null, ObjectLoadOptions? options = null)
    {
        var obj = BpfObject.Load(objectPath ?? BpfObjectFiles.Require(BpfObjectFiles.Xdp), options);
        try
        {
            var progs = obj.Map("km_progs");
            for (uint i = 0; i < Stages.Length; i++) progs.SetProgram(i, obj.Program(Stages[i]));
            return new AuthorizationProgram(obj);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    public BpfMap Map(string name) => Object.Map(name);

    /// <summary>Writes the tables (image sections) the programs read.</summary>
    public void Fill(IEnumerable<MapContent> tables)
    {
        foreach (var t in tables)
            if (Object.Maps.TryGetValue(t.Name, out var m)) MapWriter.Replace(m, t);
    }

    /// <summary>Runs the entry program on one frame.</summary>
    public TestRunResult Run(ReadOnlySpan<byte> frame, int repeat = 1) => Program.TestRun(frame, repeat);

    /// <summary>The verdict and deciding policy the last evaluated packet left in km_scratch on
    /// whichever CPU ran it (call <see cref="ClearScratch"/> first).</summary>
    public (VerdictSlot Verdict, uint PolicyId)? LastDecision()
    {
        var scratch = Map("km_scratch");
        var buf = new byte[scratch.LookupSize];
        if (!scratch.TryLookup(new byte[4], buf)) return null;
        int slot = (scratch.ValueSize + 7) & ~7;
        for (int cpu = 0; cpu < PerCpu.PossibleCpus; cpu++)
        {
            var s = buf.AsSpan(cpu * slot, scratch.ValueSize);
            // A slot the entry program wrote has a destination (a local workload address).
            if (s.Slice(ScratchDstOffset, 16).IndexOfAnyExcept((byte)0) < 0) continue;
            return ((VerdictSlot)MemoryMarshal.Read<uint>(s[ScratchVerdictOffset..]), MemoryMarshal.Read<uint>(s[ScratchPolicyIdOffset..]));
        }
        return null;
    }

    public void ClearScratch()
    {
        var scratch = Map("km_scratch");
        scratch.Update(new byte[4], new byte[scratch.LookupSize]);
    }

    /// <summary>Per-policy counters summed over CPUs: (matched, denied, dry-run matched).</summary>
    public (ulong Matched, ulong Denied, ulong DryRunMatched) PolicyCounters(uint policyId)
    {
        var per = Map("km_policy_stat").LookupPerCpu<uint, PolicyStats>(policyId);
        return (per.Aggregate(0UL, (a, s) => a + s.Matched), per.Aggregate(0UL, (a, s) => a + s.Denied),
            per.Aggregate(0UL, (a, s) => a + s.DryRunMatched));
    }

    public ulong VerdictCount(VerdictSlot slot) => PerCpu.Sum(Map("km_verdict_st").LookupPerCpu<uint, ulong>((uint)slot));

    [StructLayout(LayoutKind.Sequential)]
    private struct PolicyStats
    {
        public ulong Matched, Denied, DryRunMatched;
    }

    public void Dispose() => Object.Dispose();
}
