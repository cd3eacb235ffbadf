import { describe, expect, it } from 'vitest';
import { objectLabels } from './metric-labels.js';

describe('objectLabels: a scrape without honor_labels', () => {
  const scraped = {
    namespace: 'shop',
    pod: 'kube-state-metrics-5d8c7b9f6-qwk4r',
    container: 'kube-state-metrics',
    exported_pod: 'checkout-6b7f9c8d4-x2lqz',
    exported_container: '',
    alertname: 'KubeContainerWaiting',
  };

  it("reads each exported_<name> as <name>'s value, and keeps the rest", () => {
    expect(objectLabels(scraped)).toMatchObject({
      namespace: 'shop',
      pod: 'checkout-6b7f9c8d4-x2lqz',
      alertname: 'KubeContainerWaiting',
    });
  });

  it('an empty exported_ label (Prometheus drops them; a sender may not) does not blank the other', () => {
    expect(objectLabels(scraped)['container']).toBe('kube-state-metrics');
    expect(objectLabels(scraped)['pod']).toBe('checkout-6b7f9c8d4-x2lqz');
  });

  it('an alert with no exported_ labels is read as it is', () => {
    const plain = { namespace: 'shop', pod: 'web-1', container: 'web' };
    expect(objectLabels(plain)).toEqual(plain);
    expect(objectLabels(plain)['container']).toBe('web');
  });
});
