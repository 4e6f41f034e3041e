using System.CommandLine;
using System.Net;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using Slot = KmeshCompiler.Loader.DataPlane.AuthorizationProgram.VerdictSlot;

namespace Kmeshc.Commands;

/// <summary>One policy the XDP program evaluated for a packet, with what its counters say.</summary>
public sealed record XdpPolicyResult(uint Id, string Name, PolicyAction Action, bool DryRun, bool Matched);

/// <summary>What the kernel decided for one SYN: the verdict counter slot it took, the deciding
/// policy, and every policy of the evaluated list.</summary>
public sealed record XdpVerdict(Decision Decision, string Reason, string? Policy, uint? PolicyId, bool Evaluated,
    IReadOnlyList<XdpPolicyResult> Policies, XdpAction Action)
{
    public IEnumerable<XdpPolicyResult> DryRun => Policies.Where(p => p.DryRun);
}

/// <summary>`kmeshc check --engine kernel`: compile the destination node's image, load the XDP
/// programs into a private bpffs instance, fill their maps with the image, run the entry program on
/// a crafted SYN with BPF_PROG_TEST_RUN and report its verdict like the reference engine.</summary>
public static class KernelEngine
{
    public static int Check(ParseResult r, Cli.Io io, World world, Connection conn)
    {
        if (BpfEnvironment.Unavailable() is { } why)
        {
            io.Err.WriteLine($"kmeshc: error: --engine kernel: {why}");
            return Cli.Usage;
        }
        if (BpfObjectFiles.Find(BpfObjectFiles.Xdp) is null)
        {
            io.Err.WriteLine("kmeshc: error: --engine kernel: bpf/kmesh_xdp.o was not built (the build needs clang); use --engine reference");
            return Cli.Usage;
        }
        if (conn.Source.IsV6 != conn.Destination.IsV6)
        {
            io.Err.WriteLine($"kmeshc: error: --src {conn.Source} and --dst {conn.Destination} are of different address families; a packet has one");
            return Cli.Usage;
        }
        var evaluator = new Evaluator(world);
        var dst = evaluator.WorkloadAt(conn.Destination);
        if (dst is null)
        {
            io.Err.WriteLine($"kmeshc: error: --dst {conn.Destination} is no workload's address: no node image holds it, and XDP passes such traffic without evaluating it (the reference engine says \"workload not found\")");
            return Cli.Failed;
        }
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, dst.Node, bag);
        if (image is null)
        {
            foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
            io.Err.WriteLine($"kmeshc: error: the image for node {dst.Node} could not be compiled");
            return Cli.Failed;
        }
        XdpVerdict v;
        try
        {
            using var fs = new PrivateBpfFs();
            using var prog = AuthorizationProgram.Load();
            Fill(prog, image);
            foreach (var (name, map) in prog.Object.Maps) if (name.StartsWith("km_", StringComparison.Ordinal)) map.Pin(fs[name]);
            v = Decide(prog, image, conn);
        }
        catch (BpfException e)
        {
            io.Err.WriteLine($"kmeshc: error: --engine kernel: {e.Message}");
            return Cli.Usage;
        }
        bool json = r.GetValue<string>("--format") == "json";
        io.Out.Write(json ? Json(v, conn, dst) : Text(v, conn, dst));
        return Cli.Ok;
    }

    /// <summary>The image's tables as the maps' contents.</summary>
    public static IEnumerable<MapContent> Tables(ImageFile image) =>
        image.Sections.Select(s => new MapContent(s.Name, s.KeySize, s.ValueSize, s.Entries.Select(e => (e.Key, e.Value)).ToList()));

    public static void Fill(AuthorizationProgram prog, ImageFile image) => prog.Fill(Tables(image));

    public static byte[] Syn(Connection c) =>
        Packets.Syn(new IPAddress(c.Source.ToBytes()), new IPAddress(c.Destination.ToBytes()), c.Port);

    /// <summary>Runs one SYN through the loaded programs (whose maps hold <paramref name="image"/>) and
    /// reads back the verdict, the deciding policy and the per-policy counter changes.</summary>
    public static XdpVerdict Decide(AuthorizationProgram prog, ImageFile image, Connection conn) =>
        Decide(prog, image, new ImageTables(image), conn);

    /// <summary>As above, with the image's tables already decoded (for many packets on one image).</summary>
    public static XdpVerdict Decide(AuthorizationProgram prog, ImageFile image, ImageTables tables, Connection conn)
    {
        var listed = ListedPolicies(tables, conn);
        var before = listed.Select(id => prog.PolicyCounters(id)).ToArray();
        prog.ClearScratch();
        var action = prog.Run(Syn(conn)).XdpAction;
        var decision = prog.LastDecision();
        var results = new List<XdpPolicyResult>();
        for (int i = 0; i < listed.Count; i++)
        {
            uint id = listed[i];
            var after = prog.PolicyCounters(id);
            var row = ImageTables.At(tables.Policies, id);
            bool dry = row is { } p && (p.Flags & Layout.PolicyDryRun) != 0;
            bool matched = after.Matched > before[i].Matched || after.DryRunMatched > before[i].DryRunMatched;
            results.Add(new XdpPolicyResult(id, image.Name(NameKind.Policy, id) ?? $"policy#{id}",
                row is { Action: Layout.ActionDeny } ? PolicyAction.Deny : PolicyAction.Allow, dry, matched));
        }
        if (decision is not { } d)
            return new XdpVerdict(action == XdpAction.Drop ? Decision.Deny : Decision.Allow,
                action == XdpAction.Drop ? "dropped before evaluation (unparsable SYN)" : "not evaluated (not a local workload)",
                null, null, false, results, action);
        var (dec, reason) = d.Verdict switch
        {
            Slot.AllowPolicy => (Decision.Allow, Reasons.AllowedByPolicy),
            Slot.AllowNoAllow => (Decision.Allow, Reasons.NoAllowPolicies),
            Slot.DenyPolicy => (Decision.Deny, Reasons.ExplicitlyDenied),
            Slot.DenyNoneAllow => (Decision.Deny, Reasons.NoneAllowed),
            Slot.Unparsed => (Decision.Deny, "dropped: the packet could not be parsed"),
            _ => (Decision.Deny, "dropped: evaluation failed (missing table row or step budget)"),
        };
        bool named = d.Verdict is Slot.AllowPolicy or Slot.DenyPolicy;
        return new XdpVerdict(dec, reason, named ? image.Name(NameKind.Policy, d.PolicyId) ?? $"policy#{d.PolicyId}" : null,
            named ? d.PolicyId : null, true, results, action);
    }

    /// <summary>The policy ids the eval of this packet lists, in decision order.</summary>
    private static List<uint> ListedPolicies(ImageTables t, Connection c)
    {
        if (!t.Workloads.TryGetValue(c.Destination, out var w)) return [];
        uint eval = t.PortIndex.TryGetValue((w.WorkloadId, c.Port), out var e) ? e : w.EvalId;
        if (ImageTables.At(t.Evals, eval) is not { } ev) return [];
        return [.. t.Lists.Skip((int)ev.PolicyFirst).Take((int)ev.PolicyCount)];
    }

    private static string Json(XdpVerdict v, Connection c, Workload dst) => Kmeshc.Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("decision", v.Decision == Decision.Allow ? "allow" : "deny");
        w.WriteString("reason", v.Reason);
        if (v.Policy is null) w.WriteNull("policy"); else w.WriteString("policy", v.Policy);
        w.WriteString("engine", "kernel");
        w.WriteStartObject("connection");
        w.WriteString("source", c.Source.ToString());
        w.WriteString("destination", c.Destination.ToString());
        w.WriteNumber("port", c.Port);
        if (c.SourceIdentity is null) w.WriteNull("sourceIdentity"); else w.WriteString("sourceIdentity", c.SourceIdentity.ToString());
        w.WriteString("workload", dst.Key);
        w.WriteString("node", dst.Node);
        w.WriteEndObject();
        w.WriteString("xdp", v.Action == XdpAction.Drop ? "XDP_DROP" : v.Action == XdpAction.Pass ? "XDP_PASS" : v.Action.ToString());
        Kmeshc.Json.DryRun(w, v.DryRun.Select(p => (p.Name, p.Action, p.Matched)));
        w.WriteStartArray("trace");
        foreach (var p in v.Policies)
        {
            w.WriteStartObject();
            w.WriteString("policy", p.Name);
            w.WriteString("action", Kmeshc.Json.Action(p.Action));
            w.WriteBoolean("dryRun", p.DryRun);
            w.WriteBoolean("matched", p.Matched);
            w.WriteString("detail", "from the policy's kernel counters");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }) + "\n";

    private static string Text(XdpVerdict v, Connection c, Workload dst)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append($"{(v.Decision == Decision.Allow ? "ALLOW" : "DENY")}: {v.Reason}");
        if (v.Policy is not null) sb.Append($" ({v.Policy})");
        sb.AppendLine();
        sb.AppendLine($"engine: kernel (XDP program, BPF_PROG_TEST_RUN on the image of node {dst.Node}): {(v.Action == XdpAction.Drop ? "XDP_DROP" : "XDP_PASS")}");
        sb.AppendLine($"connection: {c.Source} -> {c.Destination}:{c.Port} ({dst.Key}); source identity by address: {c.SourceIdentity?.ToString() ?? "none"}");
        if (v.Policies.Count == 0) sb.AppendLine("policies evaluated for this port: none");
        else
        {
            sb.AppendLine("policies evaluated for this port, in decision order:");
            foreach (var p in v.Policies)
                sb.AppendLine($"  {(p.Matched ? "matched    " : "not matched")} {(p.Action == PolicyAction.Allow ? "ALLOW" : "DENY ")} {p.Name}{(p.DryRun ? " (dry-run: never enforced)" : "")}");
        }
        return sb.ToString();
    }
}
