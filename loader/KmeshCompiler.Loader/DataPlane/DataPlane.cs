using System.Net;
using System.Runtime.InteropServices;
using KmeshCompiler.Loader.Node;

namespace KmeshCompiler.Loader.DataPlane;

/// <summary>What the XDP programs did with one SYN: the action, the verdict counter slot and deciding
/// policy the entry or the POLICY stage left in the scratch (null when the packet was not evaluated),
/// and for every policy the evaluated eval lists, whether its counters moved.</summary>
public sealed record SynResult(XdpAction Action, uint? Verdict, uint? PolicyId, IReadOnlyList<(uint PolicyId, bool Matched)> Policies);

/// <summary>A node's programs and maps, held in this process: unpinned (<see cref="Load"/>, for
/// `kmeshc check --engine kernel`, the tests and the benchmarks) or the pinned ones a
/// <see cref="NodeLoader"/> opened. Images go in through <see cref="Publish"/>, the same generations
/// the loader uses; <see cref="Fill"/> writes raw tables into generation 0 for tests of the programs
/// themselves (not atomic).</summary>
public sealed class DataPlane : IDisposable
{
    private readonly bool _owns;

    public NodeObjects Objects { get; }

    public DataPlane(NodeObjects objects, bool owns = false)
    {
        Objects = objects;
        _owns = owns;
    }

    public static DataPlane Load() => new(NodeObjects.Load(), owns: true);

    public BpfProgram Program => Objects.Program(Programs.Entry);
    public BpfProgram Connect4 => Objects.Program(Programs.Connect4);
    public BpfProgram Connect6 => Objects.Program(Programs.Connect6);

    /// <summary>A map by its full name (<c>km_progs</c>, <c>km_evals_0</c>), or an image table's copy in
    /// the generation in force by its image name (<c>km_evals</c>).</summary>
    public BpfMap Map(string name) => Map(name, ActiveSlot());

    private BpfMap Map(string name, int slot) =>
        Layout.ImageMaps.Concat(Layout.NodeMaps).FirstOrDefault(m => m.Name == name) is { PerGeneration: true } spec
            ? Objects.Map(spec, slot)
            : Objects.Map(name);

    /// <summary>The generation slot in force (one read of km_active).</summary>
    public int ActiveSlot() => new Publisher(Objects).ActiveSlot();

    public PublishReport Publish(ImageFile image) => new Publisher(Objects).Publish(image);

    /// <summary>Writes raw tables into generation slot 0 and puts it in force, counter slot = policy
    /// id. For tests of the programs on hand-built tables.</summary>
    public void Fill(IEnumerable<MapContent> tables)
    {
        foreach (var t in tables)
        {
            var spec = Layout.ImageMaps.FirstOrDefault(m => m.Name == t.Name);
            MapWriter.Replace(spec is null ? Objects.Map(t.Name) : Objects.Map(spec, 0), t);
        }
        var ids = Objects.Map(Layout.Map(Layout.MapStatIds), 0);
        var keys = new byte[4 * ids.MaxEntries];
        for (int i = 0; i < ids.MaxEntries; i++) BitConverter.TryWriteBytes(keys.AsSpan(4 * i), (uint)i);
        ids.UpdateBatch(keys, keys, ids.MaxEntries);
        Objects.Map(Layout.MapActive).Update(0u, 0u);
    }

    /// <summary>Runs the entry program on one frame.</summary>
    public TestRunResult Run(ReadOnlySpan<byte> frame, int repeat = 1) => Program.TestRun(frame, repeat);

    /// <summary>Runs one SYN and reports what the programs decided and which listed policies matched
    /// (from their counters), reading the eval's policy list from the live maps.</summary>
    public SynResult Syn(IPAddress src, IPAddress dst, ushort port)
    {
        int slot = ActiveSlot();
        var listed = ListedPolicies(dst, port, slot);
        var before = listed.Select(id => PolicyCounters(id, slot)).ToArray();
        ClearScratch();
        var action = Run(Packets.Syn(src, dst, port)).XdpAction;
        var decision = LastDecision();
        var results = new List<(uint, bool)>(listed.Count);
        for (int i = 0; i < listed.Count; i++)
        {
            var after = PolicyCounters(listed[i], slot);
            results.Add((listed[i], after.Matched > before[i].Matched || after.DryRunMatched > before[i].DryRunMatched));
        }
        return new SynResult(action, decision?.Verdict, decision?.PolicyId, results);
    }

    /// <summary>The policy ids the eval of a destination and port lists in the generation in force.</summary>
    public List<uint> ListedPolicies(IPAddress dst, ushort port) => ListedPolicies(dst, port, ActiveSlot());

    private List<uint> ListedPolicies(IPAddress dst, ushort port, int slot)
    {
        var key = new byte[Marshal.SizeOf<KmeshIpKey>()];
        dst.GetAddressBytes().CopyTo(key, 0);
        key[16] = dst.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? (byte)1 : (byte)0;
        var w = new byte[Marshal.SizeOf<KmeshWorkload>()];
        if (!Map(Layout.MapWorkloads, slot).TryLookup(key, w)) return [];
        var workload = MemoryMarshal.Read<KmeshWorkload>(w);
        uint eval = Map(Layout.MapPortIndex, slot).TryLookup(new KmeshPortKey { Id = workload.WorkloadId, Port = port }, out uint e) ? e : workload.EvalId;
        if (!Map(Layout.MapEvals, slot).TryLookup(eval, out KmeshEval ev)) return [];
        var lists = Map(Layout.MapLists, slot);
        var ids = new List<uint>((int)ev.PolicyCount);
        for (uint i = 0; i < ev.PolicyCount; i++)
            if (lists.TryLookup(ev.PolicyFirst + i, out uint id)) ids.Add(id);
        // Then the shared block's (kmesh_tables.h, "Shared blocks").
        if (ev.Shared != 0 && Map(Layout.MapEvals, slot).TryLookup(ev.Shared - 1, out KmeshEval block))
            for (uint i = 0; i < block.PolicyCount; i++)
                if (lists.TryLookup(block.PolicyFirst + i, out uint id)) ids.Add(id);
        return ids;
    }

    /// <summary>The verdict and deciding policy the last evaluated packet left in km_scratch on
    /// whichever CPU ran it (call <see cref="ClearScratch"/> first).</summary>
    public (uint Verdict, uint PolicyId)? LastDecision()
    {
        var scratch = Objects.Map(Layout.MapScratch);
        var buf = new byte[scratch.LookupSize];
        if (!scratch.TryLookup(new byte[4], buf)) return null;
        int slot = (scratch.ValueSize + 7) & ~7;
        for (int cpu = 0; cpu < PerCpu.PossibleCpus; cpu++)
        {
            var s = buf.AsSpan(cpu * slot, scratch.ValueSize);
            // A slot the entry program wrote has a destination (a local workload address).
            if (s.Slice(KmeshScratch.DstOffset, 16).IndexOfAnyExcept((byte)0) < 0) continue;
            return (MemoryMarshal.Read<uint>(s[KmeshScratch.VerdictOffset..]), MemoryMarshal.Read<uint>(s[KmeshScratch.PolicyIdOffset..]));
        }
        return null;
    }

    public void ClearScratch()
    {
        var scratch = Objects.Map(Layout.MapScratch);
        scratch.Update(new byte[4], new byte[scratch.LookupSize]);
    }

    /// <summary>A policy id's counters in the generation in force, summed over CPUs.</summary>
    public (ulong Matched, ulong Denied, ulong DryRunMatched) PolicyCounters(uint policyId) => PolicyCounters(policyId, ActiveSlot());

    private (ulong Matched, ulong Denied, ulong DryRunMatched) PolicyCounters(uint policyId, int slot)
    {
        if (!Map(Layout.MapStatIds, slot).TryLookup(policyId, out uint counter)) return default;
        var per = Objects.Map(Layout.MapPolicyStats).LookupPerCpu<uint, KmeshPolicyStats>(counter);
        return (per.Aggregate(0UL, (a, s) => a + s.Matched), per.Aggregate(0UL, (a, s) => a + s.Denied),
            per.Aggregate(0UL, (a, s) => a + s.DryRunMatched));
    }

    public ulong VerdictCount(uint verdict) => PerCpu.Sum(Objects.Map(Layout.MapVerdictStats).LookupPerCpu<uint, ulong>(verdict));

    public ulong LbCount(uint outcome) => PerCpu.Sum(Objects.Map(Layout.MapLbStats).LookupPerCpu<uint, ulong>(outcome));

    /// <summary>Attaches connect4 and connect6 to a cgroup v2 directory (unpinned: detached on dispose).</summary>
    public IDisposable AttachCgroup(string cgroupPath)
    {
        var a4 = Connect4.AttachCgroup(cgroupPath, BpfAttachType.CgroupInet4Connect);
        try
        {
            return new Both(a4, Connect6.AttachCgroup(cgroupPath, BpfAttachType.CgroupInet6Connect));
        }
        catch
        {
            a4.Dispose();
            throw;
        }
    }

    private sealed class Both(IDisposable a, IDisposable b) : IDisposable
    {
        public void Dispose()
        {
            b.Dispose();
            a.Dispose();
        }
    }

    public void Dispose()
    {
        if (_owns) Objects.Dispose();
    }
}
