using System.Net;
using Microsoft.Extensions.Logging;

namespace KmeshCompiler.Serve;

/// <summary>Runs a <see cref="ServeLoop"/> with its HTTP endpoints until stopped: the whole of
/// <c>kmeshc serve</c> once its arguments are parsed.</summary>
public static class ServeHost
{
    public const int Stopped = 0;
    public const int Environment = 2;

    /// <summary>Returns <see cref="Stopped"/> when <paramref name="ct"/> was cancelled (the image in
    /// force stays), <see cref="Environment"/> when the address cannot be listened on or the source
    /// failed. <paramref name="listen"/> null: no HTTP endpoints.</summary>
    public static async Task<int> RunAsync(ServeLoop loop, ServeMetrics metrics, IPEndPoint? listen, ILoggerFactory logs, CancellationToken ct)
    {
        var log = logs.CreateLogger("kmeshc.serve");
        using var stopping = ct.Register(() => log.LogInformation(ServeEvents.Stopping, "stopping: a compile in progress is abandoned, a publish in progress finishes"));
        ServeEndpoints? endpoints = null;
        try
        {
            if (listen is not null)
            {
                try
                {
                    endpoints = await ServeEndpoints.StartAsync(listen, metrics, loop.Health, loop.Readiness, logs, ct);
                }
                catch (IOException e)
                {
                    log.LogError(ServeEvents.Listening, "cannot listen on {address}: {error}", listen.ToString(), e.Message);
                    return Environment;
                }
                log.LogInformation(ServeEvents.Listening, "metrics, health and readiness on http://{address} ({metrics}, {health}, {ready})",
                    endpoints.Bound.ToString(), ServeEndpoints.MetricsPath, ServeEndpoints.HealthPath, ServeEndpoints.ReadyPath);
            }
            try
            {
                await loop.RunAsync(ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                log.LogError(ServeEvents.SourceFailed, "stopping: the source failed: {error}; the image in force stays", e.Message);
                return Environment;
            }
            var live = loop.Live;
            log.LogInformation(ServeEvents.Stopped, "stopped; {inForce}", live is null ? "nothing is in force" : $"generation {live.Generation} stays in force");
            return Stopped;
        }
        finally
        {
            if (endpoints is not null) await endpoints.DisposeAsync();
        }
    }
}
