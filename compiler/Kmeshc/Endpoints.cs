using KmeshCompiler.Ir;

namespace Kmeshc;

/// <summary>Resolves the user's way of naming an endpoint: an IP address or namespace/podName.</summary>
public static class Endpoints
{
    public static bool TryResolve(World world, string text, out IpAddr address, out Workload? workload, out string error)
    {
        workload = null;
        error = "";
        if (IpAddr.TryParse(text, out address, out var ipErr))
        {
            var a = address;
            workload = world.Workloads.FirstOrDefault(w => w.Addresses.Contains(a));
            return true;
        }
        int slash = text.IndexOf('/');
        if (slash > 0 && slash < text.Length - 1 && text.IndexOf('/', slash + 1) < 0)
        {
            string ns = text[..slash], name = text[(slash + 1)..];
            workload = world.Workloads.FirstOrDefault(w => w.Namespace == ns && w.Name == name);
            if (workload is null)
            {
                var near = world.Workloads.Where(w => w.Name == name || w.Namespace == ns).Select(w => w.Key).Take(5).ToList();
                error = $"no workload '{text}' in the inputs" + (near.Count > 0 ? $" (did you mean {string.Join(", ", near)}?)" : "");
                return false;
            }
            if (workload.Addresses.IsEmpty) { error = $"workload '{text}' has no address"; return false; }
            address = workload.Addresses.FirstOrDefault(x => !x.IsV6, workload.Addresses[0]);
            return true;
        }
        error = $"'{text}' is neither an IP address ({ipErr}) nor namespace/podName";
        return false;
    }
}
