-- Argo CD health check for iot.sensorpipe.dev/SensorPipeline.
-- Reads the status the operator writes: nothing observed yet, or an older generation observed,
-- is Progressing; condition Ready=True is Healthy; a Stalled condition, or phase Failed (a spec
-- it cannot act on) or Degraded (a child failed), is Degraded: a person must act; Ready=False
-- otherwise is still Progressing (children starting).
local hs = {status = "Progressing", message = "Waiting for the operator to report status"}
if obj.status == nil then
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local ready = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Stalled" and condition.status == "True" then
      hs.status = "Degraded"
      hs.message = condition.message or condition.reason or "Stalled"
      return hs
    end
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
if obj.status.phase == "Failed" or obj.status.phase == "Degraded" then
  hs.status = "Degraded"
  hs.message = (ready and (ready.message or ready.reason)) or "Pipeline failed"
  return hs
end
if ready == nil then
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end
hs.message = ready.message or ready.reason or "Not ready"
return hs
