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
    public readonly Option<string> Dst = new("--dst") { Description = "Destination: an IP address, namespace/podName, KIND/namespace/name for a pod template (deployment, statefulset, daemonset, replicaset, job, cronjob, rollout; reference engine), or svc/namespace/name or a ClusterIP (then --port is the Service port and every endpoint is decided on its target port).", Required = true };
    public readonly Option<int> Port = new("--port") { Description = "Destination (target) port of the workload, not the Service port.", Required = true };
    public readonly Option<string?> Src = new("--src") { Description = "Source: an IP address, namespace/podName, or KIND/namespace/name for a pod template (its identity). Omitted: a plaintext client at 0.0.0.0." };
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
        string dstText = r.GetValue(o.Dst)!;
        bool json = r.GetValue(o.Format) == "json";
        if (Endpoints.TryService(world, dstText, out var service, out var err))
        {
            if (engine == "kernel") return Usage(io, "--dst names a Service: the kernel engine decides one connection to one workload address; give an endpoint's address or use --engine reference");
            return CheckService(r, o, io, world, service!, port, json, forced, plaintext);
        }
        if (err.Length > 0) { io.Err.WriteLine($"kmeshc: error: --dst: {err}"); return Cli.Failed; }
        if (!Endpoints.TryResolve(world, dstText, out var dst, out var dstWorkload, out err)) { io.Err.WriteLine($"kmeshc: error: --dst: {err}"); return Cli.Failed; }
        if (dstWorkload is { IsTemplate: true } && engine == "kernel")
        {
            io.Err.WriteLine($"kmeshc: error: --dst {dstText} is a pod template ({dstWorkload.Kind}) without an address; the kernel engine needs the Pods (with status.podIP): add them to the inputs or use --engine reference");
            return Cli.Failed;
        }
        if (!TrySource(r, o, io, world, dst, ref forced, ref plaintext, out var src, out exit)) return exit;

        var ev = new Evaluator(world);
        var conn = Connect(ev, src, dst, (ushort)port, forced, plaintext, out string identitySource);
        if (engine == "kernel") return KernelEngine.Check(r, io, world, conn);

        if (dstWorkload is not null && Endpoints.ServicePortHint(dstWorkload, (uint)port) is { } hint) io.Err.WriteLine($"kmeshc: hint: {hint}");
        var e = dstWorkload is { IsTemplate: true } ? ev.Explain(dstWorkload, conn) : ev.Explain(conn);
        io.Out.Write(json ? CheckOutput.Json(e, "reference") : CheckOutput.Text(e, identitySource));
        return Cli.Ok;
    }

    /// <summary>The source address, or for a pod template its pods' identity (they have no address here).</summary>
    private static bool TrySource(ParseResult r, Options o, Cli.Io io, World world, IpAddr dst, ref Identity? forced, ref bool plaintext, out IpAddr src, out int exit)
    {
        exit = Cli.Ok;
        src = dst.IsV6 ? new IpAddr(0, true) : IpAddr.V4(0);
        string? srcText = r.GetValue(o.Src);
        if (srcText is null) return true;
        if (!Endpoints.TryResolve(world, srcText, out src, out var w, out var err))
        {
            io.Err.WriteLine($"kmeshc: error: --src: {err}");
            exit = Cli.Failed;
            return false;
        }
        if (w is { IsTemplate: true } && forced is null && !plaintext)
        {
            if (r.GetValue(o.Engine) == "kernel")
            {
                io.Err.WriteLine($"kmeshc: error: --src {srcText} is a pod template ({w.Kind}) without an address; the kernel engine needs the Pods: add them or use --engine reference");
                exit = Cli.Failed;
                return false;
            }
            forced = w.LendsIdentity ? w.Identity : null;
            plaintext = !w.LendsIdentity;
        }
        return true;
    }

    private static Connection Connect(Evaluator ev, IpAddr src, IpAddr dst, ushort port, Identity? forced, bool plaintext, out string identitySource)
    {
        var conn = new Connection(src, dst, port, null);
        if (plaintext) identitySource = "none (--plaintext, or a host-network source)";
        else if (forced is not null) { conn = conn with { SourceIdentity = forced }; identitySource = "given by --src-identity or the source's pod template"; }
        else
        {
            conn = ev.ResolveIdentity(conn);
            identitySource = conn.SourceIdentity is not null ? "resolved from the source address"
                : ev.WorkloadAt(src) is { LendsIdentity: false } h ? $"none: {h.Key} uses the host network, so its traffic is plaintext from the node"
                : "none: no workload has this source address";
        }
        return conn;
    }

    /// <summary>--dst svc/NS/NAME or a ClusterIP: --port is the Service port; every endpoint is decided
    /// on its target port.</summary>
    private static int CheckService(ParseResult r, Options o, Cli.Io io, World world, Service s, int port, bool json, Identity? forced, bool plaintext)
    {
        if (!s.Ports.Any(p => p.Port == port))
        {
            io.Err.WriteLine($"kmeshc: error: --port {port} is not a port of Service {s.Namespace}/{s.Name}; its ports are {string.Join(", ", s.Ports.Select(p => p.Port))}");
            return Cli.Failed;
        }
        var endpoints = Endpoints.ServiceEndpoints(world, s, (uint)port);
        var ev = new Evaluator(world);
        var results = new List<(Workload W, uint Target, Explanation E, string Identity)>();
        foreach (var (w, target) in endpoints)
        {
            var dst = w.Addresses.IsEmpty ? IpAddr.V4(0) : w.Addresses.FirstOrDefault(x => !x.IsV6, w.Addresses[0]);
            Identity? f = forced;
            bool pt = plaintext;
            if (!TrySource(r, o, io, world, dst, ref f, ref pt, out var src, out int exit)) return exit;
            var conn = Connect(ev, src, dst, (ushort)target, f, pt, out string idSource);
            results.Add((w, target, w.IsTemplate ? ev.Explain(w, conn) : ev.Explain(conn), idSource));
        }
        if (json)
        {
            io.Out.Write(Kmeshc.Json.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("service", $"{s.Namespace}/{s.Name}");
                w.WriteNumber("port", port);
                w.WriteStartArray("endpoints");
                foreach (var x in results)
                {
                    w.WriteStartObject();
                    w.WriteString("workload", x.W.IsTemplate ? $"{x.W.Kind} {x.W.Key}" : x.W.Key);
                    w.WriteNumber("targetPort", x.Target);
                    w.WritePropertyName("check");
                    using (var doc = JsonDocument.Parse(CheckOutput.Json(x.E, "reference"))) doc.RootElement.WriteTo(w);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }) + "\n");
            return Cli.Ok;
        }
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"service {s.Namespace}/{s.Name} port {port}: {results.Count} endpoint(s)");
        if (results.Count == 0) sb.AppendLine("no workload serves this port (no selector, no matching pods, or a named target port they do not declare)");
        foreach (var x in results)
        {
            sb.AppendLine();
            sb.AppendLine($"=== endpoint {(x.W.IsTemplate ? $"{x.W.Kind} {x.W.Key}" : x.W.Key)}: service port {port} -> target port {x.Target}");
            sb.Append(CheckOutput.Text(x.E, x.Identity));
        }
        io.Out.Write(sb.ToString());
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
            var d = v.Destination;
            if (d.IsTemplate) sb.AppendLine($"destination {d.Kind} {d.Key} (a pod template: no address, so destination-IP conditions see {c.Destination})");
            else sb.AppendLine($"destination {d.Key} on node {(d.Node.Length > 0 ? d.Node : "(none)")}");
            if (d.NotEnforcedReason is { } why) sb.AppendLine($"not enforced: {why}; its connections pass without evaluation");
            if (d.Enforced) sb.AppendLine();
            if (!d.Enforced) { }
            else if (e.Policies.IsEmpty) sb.AppendLine("no candidate policies (namespace, global or attached to this workload)");
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
