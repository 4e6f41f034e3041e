using System.CommandLine;
using System.Text.Json;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace Kmeshc.Commands;

/// <summary>kmeshc check: decide one connection and say why (cli.md).</summary>
public static class CheckCommand
{
    private sealed class Options
    {
    public readonly Option<string> Dst = new("--dst") { Description = "Destination: an IP address or namespace/podName.", Required = true };
    public readonly Option<int> Port = new("--port") { Description = "Destination (target) port of the workload, not the Service port.", Required = true };
    public readonly Option<string?> Src = new("--src") { Description = "Source: an IP address or namespace/podName. Omitted: a plaintext client at 0.0.0.0." };
    public readonly Option<string?> SrcIdentity = new("--src-identity") { Description = "Override the source identity: TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT (reference engine only)." };
    public readonly Option<bool> Plaintext = new("--plaintext") { Description = "Treat the source as having no identity (reference engine only)." };
    public readonly Option<string> Engine = new("--engine") { Description = "reference (the C# evaluator) or kernel (the XDP program via BPF_PROG_TEST_RUN; needs root).", DefaultValueFactory = _ => "reference" };
    public readonly Option<string> Format = new("--format") { Description = "text (a trace for people) or json.", DefaultValueFactory = _ => "text" };

    }

    public static Command Create()
    {
        var o = new Options();
        var inputs = Cli.Inputs();
        var cmd = new Command("check", "Decide one connection and explain why: every candidate policy, rule, clause and match with its result.")
        {
            inputs, o.Dst, o.Port, o.Src, o.SrcIdentity, o.Plaintext, o.Engine, o.Format,
        };
        o.Engine.AcceptOnlyFromAmong("reference", "kernel");
        o.Format.AcceptOnlyFromAmong("text", "json");
        Cli.AddInputOptions(cmd);
        cmd.SetAction(r => Run(r, o, r.GetValue(inputs)!));
        return cmd;
    }

    private static int Run(ParseResult r, Options o, string[] inputs)
    {
        var io = Cli.Current(r);
        int port = r.GetValue(o.Port);
        if (port is < 0 or > 65535) return Usage(io, $"--port {port} is not a TCP port (0..65535)");
        string engine = r.GetValue(o.Engine)!;
        string? idText = r.GetValue(o.SrcIdentity);
        bool plaintext = r.GetValue(o.Plaintext);
        if (idText is not null && plaintext) return Usage(io, "--src-identity and --plaintext contradict each other");
        if (engine == "kernel" && (idText is not null || plaintext))
            return Usage(io, "the kernel knows identities only by source address: --src-identity/--plaintext need --engine reference");
        Identity? forced = null;
        if (idText is not null && !Identity.TryParse(idText, out forced))
            return Usage(io, $"--src-identity '{idText}' is not TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT");

        var load = Cli.LoadOrReport(r, inputs, out int exit);
        if (load is null) return exit;
        var world = load.World;
        if (!Endpoints.TryResolve(world, r.GetValue(o.Dst)!, out var dst, out _, out var err)) { io.Err.WriteLine($"kmeshc: error: --dst: {err}"); return Cli.Failed; }
        IpAddr src = dst.IsV6 ? new IpAddr(0, true) : IpAddr.V4(0);
        string? srcText = r.GetValue(o.Src);
        if (srcText is not null && !Endpoints.TryResolve(world, srcText, out src, out _, out err)) { io.Err.WriteLine($"kmeshc: error: --src: {err}"); return Cli.Failed; }

        var ev = new Evaluator(world);
        var conn = new Connection(src, dst, (ushort)port, null);
        string identitySource;
        if (plaintext) identitySource = "none (--plaintext)";
        else if (forced is not null) { conn = conn with { SourceIdentity = forced }; identitySource = "given by --src-identity"; }
        else
        {
            conn = ev.ResolveIdentity(conn);
            identitySource = conn.SourceIdentity is null ? "none: no workload has this source address" : "resolved from the source address";
        }

        if (engine == "kernel") return KernelEngine.Check(r, io, world, conn);

        var e = ev.Explain(conn);
        bool json = r.GetValue(o.Format) == "json";
        io.Out.Write(json ? CheckOutput.Json(e, "reference") : CheckOutput.Text(e, identitySource));
        return Cli.Ok;
    }

    private static int Usage(Cli.Io io, string message)
    {
        io.Err.WriteLine($"kmeshc: error: {message}");
        io.Err.WriteLine("Run 'kmeshc check --help' for usage.");
        return Cli.Usage;
    }
}

/// <summary>The two renderings of a check: JSON for machines (cli.md field names) and a trace for people.</summary>
public static class CheckOutput
{
    public static string Json(Explanation e, string engine) => Kmeshc.Json.Write(w =>
    {
        var v = e.Verdict;
        w.WriteStartObject();
        w.WriteString("decision", v.Decision == Decision.Allow ? "allow" : "deny");
        w.WriteString("reason", v.Reason);
        if (v.Policy is null) w.WriteNull("policy"); else w.WriteString("policy", v.Policy.Key);
        w.WriteString("engine", engine);
        w.WriteStartObject("connection");
        w.WriteString("source", e.Connection.Source.ToString());
        w.WriteString("destination", e.Connection.Destination.ToString());
        w.WriteNumber("port", e.Connection.Port);
        if (e.Connection.SourceIdentity is null) w.WriteNull("sourceIdentity"); else w.WriteString("sourceIdentity", e.Connection.SourceIdentity.ToString());
        if (v.Destination is null) w.WriteNull("workload"); else w.WriteString("workload", v.Destination.Key);
        w.WriteEndObject();
        Kmeshc.Json.DryRun(w, v.DryRun.Select(d => (d.Policy.Key, d.Policy.Action, d.Matched)));
        w.WriteStartArray("trace");
        foreach (var p in e.Policies)
        {
            w.WriteStartObject();
            w.WriteString("policy", p.Policy.Key);
            w.WriteString("action", Kmeshc.Json.Action(p.Policy.Action));
            w.WriteString("scope", p.Policy.Scope.ToString().ToUpperInvariant() switch { "WORKLOADSELECTOR" => "WORKLOAD_SELECTOR", var s => s });
            w.WriteBoolean("dryRun", p.Policy.DryRun);
            w.WriteBoolean("matched", p.Matched);
            w.WriteString("detail", p.Detail);
            Loc(w, p.Policy.Location);
            w.WriteStartArray("rules");
            foreach (var rule in p.Rules)
            {
                Element(w, rule.Index, rule.Matched, rule.Detail, rule.Location);
                w.WriteStartArray("clauses");
                foreach (var c in rule.Clauses)
                {
                    Element(w, c.Index, c.Matched, c.Detail, c.Location);
                    w.WriteStartArray("matches");
                    foreach (var m in c.Matches)
                    {
                        Element(w, m.Index, m.Matched, m.Detail, m.Location);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }) + "\n";

    /// <summary>Opens a trace element's object with the fields every level shares.</summary>
    private static void Element(Utf8JsonWriter w, int index, bool matched, string detail, SourceLocation l)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteBoolean("matched", matched);
        w.WriteString("detail", detail);
        Loc(w, l);
    }

    private static void Loc(Utf8JsonWriter w, SourceLocation l)
    {
        if (l.IsKnown) w.WriteString("location", l.ToString()); else w.WriteNull("location");
    }

    public static string Text(Explanation e, string identitySource)
    {
        var sb = new System.Text.StringBuilder();
        var c = e.Connection;
        var v = e.Verdict;
        sb.AppendLine($"connection  {c.Source} -> {c.Destination}:{c.Port}");
        sb.AppendLine($"identity    {(c.SourceIdentity?.ToString() ?? "(none)")}  [{identitySource}]");
        if (v.Destination is null)
        {
            sb.AppendLine($"destination no workload has address {c.Destination}");
        }
        else
        {
            sb.AppendLine($"destination {v.Destination.Key} on node {(v.Destination.Node.Length > 0 ? v.Destination.Node : "(none)")}");
            sb.AppendLine();
            if (e.Policies.IsEmpty) sb.AppendLine("no candidate policies (namespace, global or attached to this workload)");
            else sb.AppendLine($"candidate policies ({e.Policies.Length}); DENY is decided before ALLOW, dry-run never decides:");
            foreach (var p in e.Policies.OrderBy(p => p.Role switch { "deny" => 0, "allow" => 1, _ => 2 }))
            {
                sb.AppendLine($"  {Mark(p.Matched)} {p.Policy.Key}  {p.Role.ToUpperInvariant()}  {Scope(p.Policy.Scope)}  {p.Detail}{At(p.Policy.Location)}");
                foreach (var rule in p.Rules)
                {
                    sb.AppendLine($"      {Mark(rule.Matched)} rule {rule.Index}: {rule.Detail}{At(rule.Location)}");
                    foreach (var cl in rule.Clauses)
                    {
                        sb.AppendLine($"          {Mark(cl.Matched)} clause {cl.Index}: {cl.Detail}");
                        foreach (var m in cl.Matches)
                            sb.AppendLine($"              {Mark(m.Matched)} match {m.Index}: {m.Detail}{At(m.Location)}");
                    }
                }
            }
        }
        sb.AppendLine();
        sb.Append($"decision: {(v.Decision == Decision.Allow ? "ALLOW" : "DENY")} ({v.Reason})");
        if (v.Policy is not null) sb.Append($" by {v.Policy.Key}{At(v.Policy.Location)}");
        sb.AppendLine();
        foreach (var d in v.DryRun.Where(d => d.Matched))
            sb.AppendLine($"dry-run: {d.Policy.Key} ({d.Policy.Action.ToString().ToUpperInvariant()}) would have matched");
        return sb.ToString();
    }

    private static string Mark(bool matched) => matched ? "[match]" : "[-----]";

    private static string Scope(PolicyScope s) => s switch
    {
        PolicyScope.Global => "global",
        PolicyScope.Namespace => "namespace",
        _ => "selector",
    };

    private static string At(SourceLocation l) => l.IsKnown ? $"  ({l})" : "";
}
