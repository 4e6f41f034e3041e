using System.CommandLine;
using System.Net;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using KmeshCompiler.Loader.Node;

namespace Kmeshc.Commands;

/// <summary>`kmeshc check --engine kernel`: compile the destination node's image, load it with the
/// loader into a private bpffs instance (the same generations `kmeshc load` publishes), run the entry
/// program on a crafted SYN with BPF_PROG_TEST_RUN and report its verdict like the reference engine.</summary>
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
        KernelDecision v;
        try
        {
            using var fs = new PrivateBpfFs();
            using var loader = NodeLoader.Open(fs["kmesh"], TimeSpan.Zero, create: true);
            loader.Load(image);
            v = Decide(new DataPlane(loader.Objects), image, new ImageTables(image), conn);
        }
        catch (Exception e) when (e is BpfException or LoaderException)
        {
            io.Err.WriteLine($"kmeshc: error: --engine kernel: {e.Message}");
            return Cli.Usage;
        }
        bool json = r.GetValue<string>("--format") == "json";
        io.Out.Write(json ? Json(v, conn, dst) : Text(v, conn, dst));
        return Cli.Ok;
    }

    /// <summary>Runs one SYN through a data plane that holds <paramref name="image"/> and reports it in
    /// the reference engine's terms.</summary>
    public static KernelDecision Decide(DataPlane plane, ImageFile image, ImageTables tables, Connection c)
    {
        var run = plane.Syn(new IPAddress(c.Source.ToBytes()), new IPAddress(c.Destination.ToBytes()), (ushort)c.Port);
        return KernelDecision.From(image, tables, run.Action == XdpAction.Drop, run.Verdict, run.PolicyId, run.Policies);
    }

    private static string Json(KernelDecision v, Connection c, Workload dst) => Kmeshc.Json.Write(w =>
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
        w.WriteString("xdp", v.Dropped ? "XDP_DROP" : "XDP_PASS");
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

    private static string Text(KernelDecision v, Connection c, Workload dst)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append($"{(v.Decision == Decision.Allow ? "ALLOW" : "DENY")}: {v.Reason}");
        if (v.Policy is not null) sb.Append($" ({v.Policy})");
        sb.AppendLine();
        sb.AppendLine($"engine: kernel (XDP program, BPF_PROG_TEST_RUN on the image of node {dst.Node}): {(v.Dropped ? "XDP_DROP" : "XDP_PASS")}");
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
