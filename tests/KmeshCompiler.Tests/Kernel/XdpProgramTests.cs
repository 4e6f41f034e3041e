using System.Net;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The XDP programs on hand-written tables: parsing, the empty-list ABI, deny-first, the
/// counters, fail-closed paths and the Kmesh flaws that do not need the compiler.</summary>
public sealed class XdpProgramTests : IDisposable
{
    private static readonly IPAddress Local4 = IPAddress.Parse("10.0.0.10"), Local6 = IPAddress.Parse("fd00::10");
    private static readonly IPAddress Client4 = IPAddress.Parse("10.0.1.5"), Client6 = IPAddress.Parse("fd00:1::5");
    private readonly Lazy<DataPlane> _prog = new(() => DataPlane.Load());

    private DataPlane Prog => _prog.Value;

    public void Dispose()
    {
        if (_prog.IsValueCreated) _prog.Value.Dispose();
    }

    private static KmeshMatch Never => new() { Flags = Layout.MatchNever };

    /// <summary>One workload (both families) whose default eval is built by <paramref name="build"/>.</summary>
    private HandTables Setup(Func<HandTables, uint> build)
    {
        var t = new HandTables();
        uint eval = build(t);
        t.Workload(Local4, 0, eval);
        t.Workload(Local6, 0, eval);
        Prog.Fill(t.Contents());
        return t;
    }

    private XdpAction Syn(IPAddress src, IPAddress dst, ushort port) => Prog.Run(Packets.Syn(src, dst, port)).XdpAction;

    private XdpAction Run(byte[] frame) => Prog.Run(frame).XdpAction;

    private uint DenyAll(HandTables t) => t.Eval(false, t.Policy(Layout.ActionDeny, false, t.Rule()));

    [KernelFact]
    public void Only_tcp_syns_to_local_workloads_are_judged()
    {
        Setup(DenyAll);
        Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 80));
        Assert.Equal(XdpAction.Drop, Syn(Client6, Local6, 80));
        ulong before = Prog.VerdictCount(Layout.VerdictDenyPolicy);
        Assert.Equal(XdpAction.Pass, Syn(Client4, IPAddress.Parse("10.0.0.11"), 80));
        Assert.Equal(XdpAction.Pass, Run(Packets.Tcp(Client4, Local4, 1234, 80, Packets.TcpSyn | Packets.TcpAck)));
        Assert.Equal(XdpAction.Pass, Run(Packets.Tcp(Client4, Local4, 1234, 80, Packets.TcpAck)));
        Assert.Equal(XdpAction.Pass, Run(Packets.Tcp(Client4, Local4, 1234, 80, Packets.TcpSyn, protocolOverride: 17)));
        Assert.Equal(XdpAction.Pass, Run(Packets.Tcp(Client6, Local6, 1234, 80, Packets.TcpSyn, protocolOverride: 17)));
        Assert.Equal(XdpAction.Pass, Run([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]));
        Assert.Equal(before, Prog.VerdictCount(Layout.VerdictDenyPolicy));
    }

    [KernelFact]
    public void Vlan_tagged_syns_are_judged_too()
    {
        Setup(DenyAll);
        static byte[] Tag(byte[] frame, params ushort[] tpids)
        {
            var f = frame.ToList();
            foreach (var tpid in tpids.Reverse())
                f.InsertRange(12, new byte[] { (byte)(tpid >> 8), (byte)tpid, 0x00, 0x64 });
            return f.ToArray();
        }
        Assert.Equal(XdpAction.Drop, Run(Tag(Packets.Syn(Client4, Local4, 80), 0x8100)));
        Assert.Equal(XdpAction.Drop, Run(Tag(Packets.Syn(Client6, Local6, 80), 0x88a8, 0x8100)));
        Assert.Equal(XdpAction.Pass, Run(Tag(Packets.Syn(Client4, IPAddress.Parse("10.0.0.99"), 80), 0x8100)));
        // Three tags: the entry does not look further, and the frame is not IP to it.
        Assert.Equal(XdpAction.Pass, Run(Tag(Packets.Syn(Client4, Local4, 80), 0x88a8, 0x8100, 0x8100)));
    }

    [KernelFact]
    public void Ipv4_options_are_skipped()
    {
        Setup(DenyAll);
        for (int words = 0; words <= 10; words++)
            Assert.Equal(XdpAction.Drop, Run(Packets.Tcp(Client4, Local4, 1234, 80, Packets.TcpSyn, ipv4OptionWords: words)));
    }

    [KernelFact]
    public void Ipv6_extension_headers_up_to_eight_are_followed_and_longer_chains_to_local_workloads_drop()
    {
        Setup(t => t.Eval(true, t.Policy(Layout.ActionAllow, false, t.Rule())));
        byte[] chain = [Packets.HopByHop, Packets.DestOptions, Packets.Routing, Packets.Fragment, Packets.DestOptions];
        Assert.Equal(XdpAction.Pass, Run(Packets.Tcp(Client6, Local6, 1234, 80, Packets.TcpSyn, ipv6Extensions: chain)));
        Assert.Equal(Layout.VerdictAllowPolicy, LastVerdict(Packets.Tcp(Client6, Local6, 1234, 80, Packets.TcpSyn, ipv6Extensions: chain)));
        var eight = Enumerable.Repeat(Packets.DestOptions, 7).Prepend(Packets.HopByHop).ToArray();
        Assert.Equal(Layout.VerdictAllowPolicy, LastVerdict(Packets.Tcp(Client6, Local6, 1234, 80, Packets.TcpSyn, ipv6Extensions: eight)));

        ulong unparsed = Prog.VerdictCount(Layout.VerdictUnparsed);
        var nine = Enumerable.Repeat(Packets.DestOptions, 9).ToArray();
        Assert.Equal(XdpAction.Drop, Run(Packets.Tcp(Client6, Local6, 1234, 80, Packets.TcpSyn, ipv6Extensions: nine)));
        Assert.Equal(unparsed + 1, Prog.VerdictCount(Layout.VerdictUnparsed));
        // The same chain to an address that is no local workload is not ours: it passes.
        Assert.Equal(XdpAction.Pass, Run(Packets.Tcp(Client6, IPAddress.Parse("fd00::99"), 1234, 80, Packets.TcpSyn, ipv6Extensions: nine)));
        // ESP hides whether there is a SYN inside: dropped when local.
        Assert.Equal(XdpAction.Drop, Run(Packets.Tcp(Client6, Local6, 1234, 80, Packets.TcpSyn, protocolOverride: 50)));
    }

    [KernelFact]
    public void Truncated_headers_to_local_workloads_drop_and_later_fragments_pass()
    {
        Setup(t => t.Eval(true, t.Policy(Layout.ActionAllow, false, t.Rule())));
        var syn = Packets.Syn(Client4, Local4, 80);
        Assert.Equal(XdpAction.Drop, Run(syn[..(syn.Length - 8)]));
        var syn6 = Packets.Syn(Client6, Local6, 80);
        Assert.Equal(XdpAction.Drop, Run(syn6[..(syn6.Length - 8)]));
        // A later IPv4 fragment (offset 8) carries no TCP header.
        var frag = Packets.Syn(Client4, Local4, 80);
        frag[14 + 6] = 0x00; frag[14 + 7] = 0x01;
        Assert.Equal(XdpAction.Pass, Run(frag));
    }

    [KernelFact]
    public void Empty_lists_follow_the_abi()
    {
        // A policy with no rules never matches; a rule with no clauses and a clause with no matches always
        // match; a NEVER match never does.
        Setup(t => t.Eval(true,
            t.Policy(Layout.ActionDeny, false),
            t.Policy(Layout.ActionDeny, false, t.Rule(t.Clause(t.Match(Never)))),
            t.Policy(Layout.ActionAllow, false, t.Rule(t.Clause()))));
        Assert.Equal(Layout.VerdictAllowPolicy, LastVerdict(Packets.Syn(Client4, Local4, 80)));

        Setup(t => t.Eval(true, t.Policy(Layout.ActionAllow, false)));
        Assert.Equal(Layout.VerdictDenyNoneAllow, LastVerdict(Packets.Syn(Client4, Local4, 80)));
        Setup(t => t.Eval(false));
        Assert.Equal(Layout.VerdictAllowNoAllow, LastVerdict(Packets.Syn(Client4, Local4, 80)));
    }

    [KernelFact]
    public void A_later_deny_beats_an_earlier_allow_whatever_the_list_order()
    {
        // Kmesh flaw: a matched ALLOW earlier in the list beat a later DENY.
        uint deny = 0;
        Setup(t =>
        {
            uint allow = t.Policy(Layout.ActionAllow, false, t.Rule());
            deny = t.Policy(Layout.ActionDeny, false, t.Rule(t.Clause(t.Match(new KmeshMatch { PortSet = t.PortSet(80) }))));
            return t.Eval(true, allow, deny);
        });
        Prog.ClearScratch();
        Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 80));
        Assert.Equal((Layout.VerdictDenyPolicy, deny), Prog.LastDecision());
        Assert.Equal(XdpAction.Pass, Syn(Client4, Local4, 81));
    }

    [KernelFact]
    public void Counters_count_matches_denials_and_dry_runs()
    {
        uint dry = 0, deny = 0, allow = 0;
        Setup(t =>
        {
            var m = t.Match(new KmeshMatch { SrcSet = t.AddrSet("10.0.1.0/24", "fd00:1::/64") });
            dry = t.Policy(Layout.ActionDeny, true, t.Rule(t.Clause(m)));
            deny = t.Policy(Layout.ActionDeny, false, t.Rule(t.Clause(t.Match(new KmeshMatch { PortSet = t.PortSet(22) }))));
            allow = t.Policy(Layout.ActionAllow, false, t.Rule(t.Clause(m)));
            return t.Eval(true, dry, deny, allow);
        });
        var d0 = Prog.PolicyCounters(dry); var x0 = Prog.PolicyCounters(deny); var a0 = Prog.PolicyCounters(allow);
        Assert.Equal(XdpAction.Pass, Syn(Client4, Local4, 80));   // dry-run deny matches, allow matches
        Assert.Equal(XdpAction.Pass, Syn(Client6, Local6, 80));
        Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 22));   // enforced deny
        Assert.Equal(XdpAction.Drop, Syn(IPAddress.Parse("10.9.9.9"), Local4, 80)); // no allow matched
        var d1 = Prog.PolicyCounters(dry); var x1 = Prog.PolicyCounters(deny); var a1 = Prog.PolicyCounters(allow);
        Assert.Equal((0UL, 0UL, 3UL), (d1.Matched - d0.Matched, d1.Denied - d0.Denied, d1.DryRunMatched - d0.DryRunMatched));
        Assert.Equal((1UL, 1UL, 0UL), (x1.Matched - x0.Matched, x1.Denied - x0.Denied, x1.DryRunMatched - x0.DryRunMatched));
        Assert.Equal((3UL, 0UL, 0UL), (a1.Matched - a0.Matched, a1.Denied - a0.Denied, a1.DryRunMatched - a0.DryRunMatched));
    }

    [KernelFact]
    public void A_thousand_policies_and_long_lists_are_evaluated_in_full()
    {
        // Kmesh flaw: only 4 policies per workload and 4 entries per list were examined.
        uint last = 0;
        Setup(t =>
        {
            var ids = new List<uint>();
            for (int i = 0; i < 999; i++)
                ids.Add(t.Policy(Layout.ActionDeny, false, t.Rule(t.Clause(t.Match(new KmeshMatch { PortSet = t.PortSet((uint)(10000 + i)) })))));
            var ports = Enumerable.Range(1, 60).Select(p => (uint)(2000 + p)).ToArray();
            var srcs = Enumerable.Range(1, 60).Select(i => $"192.168.{i}.0/24").ToArray();
            var matches = Enumerable.Range(0, 12).Select(i => t.Match(new KmeshMatch { PortSet = t.PortSet(ports), SrcSet = t.AddrSet(srcs) })).ToArray();
            last = t.Policy(Layout.ActionDeny, false, t.Rule(t.Clause(matches[..11]), t.Clause(matches[11])));
            ids.Add(last);
            return t.Eval(false, [.. ids]);
        });
        Prog.ClearScratch();
        Assert.Equal(XdpAction.Drop, Syn(IPAddress.Parse("192.168.60.7"), Local4, 2060));
        Assert.Equal((Layout.VerdictDenyPolicy, last), Prog.LastDecision());
        Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 10998));
        Assert.Equal(XdpAction.Pass, Syn(IPAddress.Parse("192.168.61.7"), Local4, 2060));
        Assert.Equal(XdpAction.Pass, Syn(IPAddress.Parse("192.168.60.7"), Local4, 2061 + 60));
    }

    [KernelFact]
    public void Missing_stage_or_broken_rows_fail_closed()
    {
        // Every stage has rows, so the packet needs all four stage programs.
        Setup(t => t.Eval(false, t.Policy(Layout.ActionDeny, false, t.Rule(t.Clause(t.Match(new KmeshMatch { PortSet = t.PortSet(22) }))))));
        Assert.Equal(XdpAction.Pass, Syn(Client4, Local4, 80));
        ulong errors = Prog.VerdictCount(Layout.VerdictError);
        Prog.Map("km_progs").Delete(BitConverter.GetBytes(2u));
        try
        {
            Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 80));
            Assert.Equal(errors + 1, Prog.VerdictCount(Layout.VerdictError));
        }
        finally
        {
            Prog.Map("km_progs").SetProgram(2, Prog.Objects.Program(Programs.Stages[2]));
        }
        // An eval whose match stage needs more steps than the budget is refused at run time too.
        Setup(t => t.RawEval(false, [], [], [], [t.Policy(Layout.ActionAllow, false)], matchCountOverride: Layout.MaxStageSteps + 1));
        Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 80));
        // A list that points past the tables.
        Setup(t => t.RawEval(false, [], [], [], [Layout.MaxPolicies + 5]));
        Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 80));
        Assert.Equal(errors + 3, Prog.VerdictCount(Layout.VerdictError));
    }

    [KernelFact]
    public void The_port_index_selects_the_eval()
    {
        Setup(t =>
        {
            uint denyEval = DenyAll(t);
            t.PortEval(0, 443, denyEval);
            return t.Eval(false);
        });
        Assert.Equal(XdpAction.Drop, Syn(Client4, Local4, 443));
        Assert.Equal(XdpAction.Pass, Syn(Client4, Local4, 444));
    }

    private uint? LastVerdict(byte[] frame)
    {
        Prog.ClearScratch();
        Prog.Run(frame);
        return Prog.LastDecision()?.Verdict;
    }
}
