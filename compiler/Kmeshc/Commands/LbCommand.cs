using System.CommandLine;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace Kmeshc.Commands;

/// <summary>kmeshc lb: which endpoints a connect from a node to a service port can reach.</summary>
public static class LbCommand
{
    public static Command Create()
    {
        var inputs = Cli.Inputs();
        var node = new Option<string>("--node") { Description = "The client's node (rankings are relative to its locality and network).", Required = true };
        var service = new Option<string>("--service") { Description = "The service as NAMESPACE/NAME.", Required = true };
        var port = new Option<int>("--port") { Description = "The Service port the client connects to.", Required = true };
        var format = new Option<string>("--format") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var cmd = new Command("lb", "Show which endpoints a connect from NODE to a service port can reach, with locality priorities and weights.")
        {
            inputs, node, service, port, format,
        };
        Cli.AddInputOptions(cmd);
        cmd.SetAction(r =>
        {
            var io = Cli.Current(r);
            var load = Cli.LoadOrReport(r, r.GetValue(inputs)!, out int exit);
            if (load is null) return exit;
            var world = load.World;
            string nodeName = r.GetValue(node)!, svcName = r.GetValue(service)!;
            int p = r.GetValue(port);
            var svc = world.Services.FirstOrDefault(s => $"{s.Namespace}/{s.Name}" == svcName || s.Key == svcName);
            if (svc is null)
            {
                var names = world.Services.Select(s => $"{s.Namespace}/{s.Name}").OrderBy(x => x, StringComparer.Ordinal).Take(10);
                io.Err.WriteLine($"kmeshc: error: no service '{svcName}' in the inputs (services: {string.Join(", ", names)})");
                return Cli.Failed;
            }
            if (svc.Ports.All(x => x.Port != p))
            {
                io.Err.WriteLine($"kmeshc: error: service {svcName} has no port {p} (ports: {string.Join(", ", svc.Ports.Select(x => x.Port))})");
                return Cli.Failed;
            }
            if (world.Nodes.All(n => n.Name != nodeName))
                io.Err.WriteLine($"kmeshc: warning: node '{nodeName}' is not in the inputs; ranking it as a node with empty locality and network");
            var res = LoadBalancer.Resolve(world, nodeName, svc, (uint)p);
            io.Out.Write(r.GetValue(format) == "json" ? Json(res) : Text(res, svc, nodeName, (uint)p));
            return Cli.Ok;
        });
        return cmd;
    }

    private static string ModeName(LbMode m) => m.ToString().ToLowerInvariant();

    public static string Json(LbResult res) => Kmeshc.Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("mode", ModeName(res.Mode));
        w.WriteStartArray("endpoints");
        foreach (var e in res.Endpoints)
        {
            w.WriteStartObject();
            w.WriteString("workload", e.Workload.Key);
            w.WriteString("address", e.Address.ToString());
            w.WriteNumber("port", e.Port);
            w.WriteNumber("priority", e.Priority);
            w.WriteNumber("weight", e.Weight);
            w.WriteBoolean("selectable", e.Selectable);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }) + "\n";

    private static string Text(LbResult res, Service svc, string node, uint port)
    {
        var sb = new System.Text.StringBuilder();
        var lb = svc.LoadBalancing;
        sb.AppendLine($"service {svc.Namespace}/{svc.Name} port {port} from node {node}");
        sb.AppendLine($"mode {ModeName(res.Mode)}, scopes [{string.Join(", ", lb.RoutingPreference.Select(s => s.ToString().ToUpperInvariant()))}], health {(lb.HealthPolicy == HealthPolicy.AllowAll ? "allow-all" : "only-healthy")}");
        if (res.Mode == LbMode.Passthrough) sb.AppendLine("passthrough: the connection keeps its original destination");
        else if (!res.Selectable.Any()) sb.AppendLine(res.Mode == LbMode.Strict
            ? "no endpoint satisfies every scope: the connection keeps its original address"
            : "no selectable endpoint");
        foreach (var e in res.Endpoints)
            sb.AppendLine($"  {(e.Selectable ? "*" : " ")} {e.Workload.Key,-40} {e.Address}:{e.Port}  priority {e.Priority}  weight {e.Weight}{(e.Workload.Health == WorkloadHealth.Unhealthy ? "  (unhealthy)" : "")}");
        return sb.ToString();
    }
}
