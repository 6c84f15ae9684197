/** The dataset the fraud model is trained on. */
import { trainingSet } from 'flywheel';
import { fraudModel } from './services.ts';
import { labeledTransactions } from './sources.ts';

export const fraudTraining = trainingSet({
  name: 'fraud_training',
  spine: labeledTransactions,
  features: fraudModel,
  output: { format: 'parquet', path: 'training_sets/fraud_training' },
  owner: 'risk-ml@acme.example',
  description:
    'One row per labeled transaction with the fraud_model features as they were at the transaction time ' +
    '(point in time), plus the spine columns amount, channel and the is_fraud label.',
  tags: { model: 'card_fraud_gbt', label: 'is_fraud' },
});
