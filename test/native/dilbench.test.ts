// The Dilbench object: one per process (getDilbench), holding the loaded addon and what was chosen
// for it, and the bindings set in its stead; getBinding/setBinding and the model binding read it.
import { afterEach, describe, expect, it } from 'vitest';
import { Dilbench, getDilbench } from '../../src/native/dilbench.js';
import { getBinding, setBinding } from '../../src/api/binding.js';
import { getModelBinding, setModelBinding } from '../../src/models/binding.js';
import * as api from '../../src/index.js';
import { createFakeBinding } from '../helpers/fake-binding.js';
import { createFakeModelBinding } from '../helpers/fake-model.js';

afterEach(() => {
  setBinding(undefined);
  setModelBinding(undefined);
});

describe('Dilbench', () => {
  it('holds the loaded addon, the binary it came from and why', () => {
    const d = new Dilbench();
    const addon = d.addon;
    expect(d.addon).toBe(addon); // loaded once
    expect(d.binding).toBe(addon);
    expect(d.loadError).toBeNull();
    expect(d.binary.path).toMatch(/\.node$/);
    expect(['cpu', 'cuda']).toContain(d.binary.backend);
    expect(d.binary.reason.length).toBeGreaterThan(0);
    expect(d.binaryOf(addon)).toEqual(d.binary);
    expect(d.simdLevel).toBe(addon.info().simdLevel);
    expect(d.cuda.available).toBe(addon.info().cuda.compiled && addon.info().cuda.deviceCount > 0);
  });

  it('runs on a binding set in its stead, without loading the addon for it', () => {
    const fake = createFakeBinding();
    const d = new Dilbench({ binding: fake });
    expect(d.binding).toBe(fake);
    expect(d.binaryOf(fake)).toBeUndefined();
    expect(d.simdLevel).toBe(fake.info().simdLevel);
    expect(d.cuda).toEqual({ available: false, reason: expect.stringMatching(/^no CUDA device/) });
    d.useBinding(undefined);
    expect(d.binding).toBe(d.addon);
  });

  it('gives the model binding set in its stead, else the addon when it has the model core', () => {
    const models = createFakeModelBinding();
    const d = new Dilbench({ models });
    expect(d.models).toBe(models);
    d.useModels(undefined);
    const addon = d.addon as unknown as { createModel?: unknown };
    if (typeof addon.createModel === 'function') expect(d.models).toBe(d.addon);
    else expect(() => d.models).toThrow(/no transformer model core/);
  });

  it('is one object per process, which getBinding/setBinding and the model binding read', () => {
    expect(getDilbench()).toBe(getDilbench());
    expect(api.getDilbench).toBe(getDilbench);
    const fake = createFakeBinding();
    setBinding(fake);
    expect(getDilbench().binding).toBe(fake);
    expect(getBinding()).toBe(fake);
    const models = createFakeModelBinding();
    setModelBinding(models);
    expect(getModelBinding()).toBe(models);
    setBinding(undefined);
    expect(getBinding()).toBe(getDilbench().addon);
  });
});
