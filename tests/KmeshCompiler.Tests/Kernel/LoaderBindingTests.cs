using System.Net;
using KmeshCompiler.Loader;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The libbpf binding against the real kernel.</summary>
public sealed class LoaderBindingTests
{
    [KernelFact]
    public void Errors_name_the_errno()
    {
        var e = Assert.Throws<BpfException>(() => BpfMap.OpenPinned("/sys/fs/bpf/kmesh-no-such-pin-" + Guid.NewGuid()));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal("ENOENT", e.ErrnoName);
        Assert.Contains("ENOENT (No such file or directory)", e.Message);
        var big = Assert.Throws<BpfException>(() => BpfMap.Create(BpfMapType.Array, "km_bad", 4, 4, 0));
        Assert.Equal("EINVAL", big.ErrnoName);
    }

    [KernelFact]
    public void Hash_map_update_flags_lookup_delete_and_iterate()
    {
        using var m = BpfMap.Create(BpfMapType.Hash, "km_t_hash", 4, 8, 16);
        m.Update(1u, 100UL, MapUpdate.NoExist);
        var exists = Assert.Throws<BpfException>(() => m.Update(1u, 200UL, MapUpdate.NoExist));
        Assert.Equal("EEXIST", exists.ErrnoName);
        var absent = Assert.Throws<BpfException>(() => m.Update(2u, 200UL, MapUpdate.Exist));
        Assert.Equal("ENOENT", absent.ErrnoName);
        m.Update(1u, 300UL, MapUpdate.Exist);
        Assert.True(m.TryLookup(1u, out ulong v));
        Assert.Equal(300UL, v);
        Assert.False(m.TryLookup(7u, out ulong _));
        m.Update(2u, 5UL);
        Assert.Equal([1u, 2u], m.Keys().Select(k => BitConverter.ToUInt32(k)).Order());
        Assert.True(m.Delete(BitConverter.GetBytes(1u)));
        Assert.False(m.Delete(BitConverter.GetBytes(1u)));
        var full = Assert.Throws<ArgumentException>(() => m.Update(new byte[3], new byte[8]));
        Assert.Contains("key is 3 bytes, expected 4", full.Message);
    }

    [KernelFact]
    public void Batch_update_and_lookup_round_trip()
    {
        const int n = 3000;
        using var m = BpfMap.Create(BpfMapType.Hash, "km_t_batch", 4, 4, 4096);
        var keys = new byte[4 * n];
        var vals = new byte[4 * n];
        for (int i = 0; i < n; i++)
        {
            BitConverter.TryWriteBytes(keys.AsSpan(4 * i), (uint)i);
            BitConverter.TryWriteBytes(vals.AsSpan(4 * i), (uint)(i * 7));
        }
        m.UpdateBatch(keys, vals, n);
        var all = m.Entries();
        Assert.Equal(n, all.Count);
        Assert.All(all, e => Assert.Equal(BitConverter.ToUInt32(e.Key) * 7, BitConverter.ToUInt32(e.Value)));
    }

    [KernelFact]
    public void Pinned_map_opens_with_its_definition_in_a_private_bpffs()
    {
        using var fs = new BpfFs();
        using (var m = BpfMap.Create(BpfMapType.Hash, "km_t_pin", 8, 16, 32))
        {
            m.Update(new byte[8], Enumerable.Repeat((byte)9, 16).ToArray());
            m.Pin(fs["m"]);
        }
        using var again = BpfMap.OpenPinned(fs["m"]);
        Assert.Equal((BpfMapType.Hash, 8, 16, 32, "km_t_pin"), (again.Type, again.KeySize, again.ValueSize, again.MaxEntries, again.Name));
        var v = new byte[16];
        Assert.True(again.TryLookup(new byte[8], v));
        Assert.All(v, b => Assert.Equal(9, b));
        var twice = Assert.Throws<BpfException>(() => again.Pin(fs["m"]));
        Assert.Equal("EEXIST", twice.ErrnoName);
    }

    [KernelFact]
    public void Per_cpu_values_come_back_one_per_possible_cpu()
    {
        using var m = BpfMap.Create(BpfMapType.PerCpuArray, "km_t_pcpu", 4, 8, 2);
        int n = PerCpu.PossibleCpus;
        var vals = new byte[8 * n];
        for (int i = 0; i < n; i++) BitConverter.TryWriteBytes(vals.AsSpan(8 * i), (ulong)(i + 1));
        m.Update(BitConverter.GetBytes(1u), vals);
        var back = m.LookupPerCpu<uint, ulong>(1u);
        Assert.Equal(Enumerable.Range(1, n).Select(i => (ulong)i), back);
        Assert.Equal((ulong)(n * (n + 1) / 2), PerCpu.Sum(back));
    }

    [KernelFact]
    public void Baseline_program_runs_with_test_run_and_repeat()
    {
        using var obj = BpfObject.Load(BpfObjectFiles.Require(BpfObjectFiles.Baseline));
        var prog = obj.Program("baseline_xdp");
        Assert.Equal(BpfProgramType.Xdp, prog.Type);
        var map = obj.Map("baseline_map");
        var dst = IPAddress.Parse("10.1.2.3");
        map.Update(BitConverter.ToUInt32(dst.GetAddressBytes()), 0u);
        var syn = Packets.Syn(IPAddress.Parse("10.9.9.9"), dst, 80);
        var r = prog.TestRun(syn, repeat: 1000);
        Assert.Equal(XdpAction.Pass, r.XdpAction);
        Assert.True(r.DurationNs > 0);
        Assert.Equal(syn, r.DataOut);
        Assert.True(map.TryLookup(BitConverter.ToUInt32(dst.GetAddressBytes()), out uint hits));
        Assert.Equal(1000u, hits);
    }

    [KernelFact]
    public void Object_maps_can_be_resized_before_load_and_missing_names_are_enoent()
    {
        var opts = new ObjectLoadOptions();
        opts.MaxEntries["baseline_map"] = 7;
        using var obj = BpfObject.Load(BpfObjectFiles.Require(BpfObjectFiles.Baseline), opts);
        Assert.Equal(7, obj.Map("baseline_map").MaxEntries);
        Assert.Equal("ENOENT", Assert.Throws<BpfException>(() => obj.Program("nope")).ErrnoName);
        Assert.Equal("ENOENT", Assert.Throws<BpfException>(() => BpfObject.Load("/nonexistent.o")).ErrnoName);
    }

    [KernelFact]
    public void Xdp_attaches_to_an_interface_in_a_namespace()
    {
        using var veth = new VethPair();
        using var obj = BpfObject.Load(BpfObjectFiles.Require(BpfObjectFiles.Baseline));
        var prog = obj.Program("baseline_xdp");
        veth.B.Run(() =>
        {
            using var a = prog.AttachXdp(veth.IfB);
            string link = KernelEnvironment.Run("ip", "link", "show", veth.IfB);
            Assert.Contains("xdp", link);
        });
        Assert.DoesNotContain("xdp", KernelEnvironment.Run("ip", "-n", veth.B.Name, "link", "show", veth.IfB));
        var noIf = Assert.Throws<InvalidOperationException>(() => veth.B.Run(() => prog.AttachXdp("nosuchif0")));
        Assert.Contains("ENODEV", noIf.Message);
    }
}
